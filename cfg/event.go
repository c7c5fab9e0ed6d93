package cfg

import (
	"fmt"
	"strings"

	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// ShutdownFlags says how a shutdown request treats the trackers' answers
// (corosync_cfg_shutdown_flags_t).
type ShutdownFlags uint32

// Shutdown flags.
const (
	// ShutdownRequest asks every tracker; any NO, or silence until
	// cfg.shutdown_timeout, refuses the shutdown (corosync.ErrBusy).
	ShutdownRequest = ShutdownFlags(cfgwire.ShutdownRequest)
	// ShutdownRegardless asks every tracker, waits for the answers or the
	// timeout, then shuts down whatever they said.
	ShutdownRegardless = ShutdownFlags(cfgwire.ShutdownRegardless)
	// ShutdownImmediate shuts down at once without asking anyone. It is a
	// flag of the request, not an answer a tracker can give.
	ShutdownImmediate = ShutdownFlags(cfgwire.ShutdownImmediate)
)

// String names the flags as corosync does: "REQUEST", "REGARDLESS",
// "IMMEDIATE".
func (f ShutdownFlags) String() string { return cfgwire.ShutdownFlags(f).String() }

// ShutdownReply is a tracker's answer to a shutdown request
// (corosync_cfg_shutdown_reply_flags_t). corosync has only NO and YES; there
// is no "immediate" answer (ShutdownImmediate is a flag of the request).
type ShutdownReply uint32

// Shutdown replies.
const (
	ShutdownNo  = ShutdownReply(cfgwire.ShutdownNo)
	ShutdownYes = ShutdownReply(cfgwire.ShutdownYes)
)

// String returns "NO", "YES", or the number.
func (r ShutdownReply) String() string { return cfgwire.ShutdownReply(r).String() }

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventSnapshot is the current state: the first event of every
	// subscription, and the fresh state after a reconnect.
	EventSnapshot EventKind = iota + 1
	// EventShutdownRequest: the daemon asks this tracker whether it may
	// shut down (Flags says how the answers count). Answer it with
	// Client.ReplyShutdown; only sent with WithShutdownTracking.
	EventShutdownRequest
	// EventShutdownTimedOut: a shutdown request this client issued itself
	// (Client.Shutdown) timed out waiting for the trackers. corosync sends
	// it only to trackers that issued a shutdown; it must not be answered.
	EventShutdownTimedOut
	// EventDisconnected: the connection to the daemon was lost; Err says
	// why. Shutdown tracking is off until EventReconnected.
	EventDisconnected
	// EventReconnected: the connection is back, with tracking restored.
	// An EventSnapshot follows.
	EventReconnected
)

var kindNames = [...]string{"", "snapshot", "shutdown-request", "shutdown-timed-out", "disconnected", "reconnected"}

// String returns the kind's name, e.g. "shutdown-request".
func (k EventKind) String() string { return session.KindName(kindNames[:], uint8(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is what a subscription delivers.
type Event struct {
	Kind EventKind
	// Connected is false on EventDisconnected (and in a snapshot taken
	// during an outage).
	Connected bool
	// Tracking says whether the client is a shutdown tracker on the current
	// connection.
	Tracking bool
	// LocalNodeID is the local node id, read at each (re)connect; 0 while
	// disconnected.
	LocalNodeID uint32
	// Flags is the pending shutdown's flags, on EventShutdownRequest and
	// EventShutdownTimedOut.
	Flags ShutdownFlags
	// Skipped is how many events this subscription missed just before this
	// one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost, on EventDisconnected.
	Err error
}

// String renders the event on one line, e.g.
// "shutdown-request: flags REQUEST (node 1)".
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	b.WriteString(": ")
	switch e.Kind {
	case EventDisconnected:
		b.WriteString("connection lost")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
		return b.String()
	case EventShutdownRequest, EventShutdownTimedOut:
		fmt.Fprintf(&b, "flags %s (node %d)", e.Flags, e.LocalNodeID)
	default:
		fmt.Fprintf(&b, "node %d tracking %t", e.LocalNodeID, e.Tracking)
	}
	if e.Skipped > 0 {
		fmt.Fprintf(&b, " (skipped %d)", e.Skipped)
	}
	return b.String()
}
