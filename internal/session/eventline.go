package session

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
)

// EventLine renders an event on one line, as every service's Event.String
// does: "kind: body", then " (skipped n)" when the reader skipped n events
// just before it.
func EventLine(kind corosync.EventKind, body string, skipped uint64) string {
	if skipped == 0 {
		return kind.String() + ": " + body
	}
	return fmt.Sprintf("%s: %s (skipped %d)", kind, body, skipped)
}

// LostLine is the body of an EventDisconnected line: "connection lost",
// with why when err is set.
func LostLine(err error) string {
	if err == nil {
		return "connection lost"
	}
	return "connection lost: " + err.Error()
}

// QuorumLine renders a quorum state as quorum and votequorum events show
// it: "quorate ring 1.9 members [1 2]" or "not quorate ring ...".
func QuorumLine(quorate bool, ring corosync.RingID, members []uint32) string {
	q := "quorate"
	if !quorate {
		q = "not quorate"
	}
	return fmt.Sprintf("%s ring %s members %v", q, ring, members)
}
