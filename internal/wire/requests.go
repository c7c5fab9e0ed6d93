package wire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
)

// Baseline is what a connection assumes of a daemon it has not probed: the
// oldest release line this module supports. Every request the probe itself
// sends (cmap GET) is defined there.
var Baseline = corosync.Version2_4

// Unreleased marks requests that only corosync's main branch defines (after
// 3.1.10). They are sent only to a daemon the probe found to be main
// (session.ProbeCmap runs its extra cpg question for a table that has any).
var Unreleased = corosync.VersionMain

// RequestInfo is one request id of a service: its name in corosync's
// headers and the first release that defines it with this meaning.
type RequestInfo struct {
	Name  string
	Since corosync.Version
}

// Requests is a service's table of request ids, indexed by id: what the
// client may send and the release that introduced each. It is the one
// place that decides whether a request may go to a daemon: the session
// checks every outgoing message against it (session.Conn). An id with no
// entry (or an empty one) is never sent, whatever the daemon.
type Requests struct {
	Service string
	ByID    []RequestInfo
}

// Lookup returns the entry of id, and whether the table has one.
func (t *Requests) Lookup(id int32) (RequestInfo, bool) {
	if id < 0 || int(id) >= len(t.ByID) || t.ByID[id].Name == "" {
		return RequestInfo{}, false
	}
	return t.ByID[id], true
}

// Check returns nil if a daemon of release v (a lower bound, as a probe
// finds it) defines request id, and otherwise why not: the request's name
// and what it needs. Callers wrap it with corosync.ErrNotSupported.
func (t *Requests) Check(id int32, v corosync.Version) error {
	ri, ok := t.Lookup(id)
	switch {
	case !ok:
		return fmt.Errorf("%s request id %d is not one this client sends", t.Service, id)
	case ri.Since == Unreleased && !v.AtLeast(ri.Since):
		return fmt.Errorf("%s %s (request %d) exists only in corosync's unreleased main branch; the daemon showed only what corosync %s has", t.Service, ri.Name, id, v)
	case !v.AtLeast(ri.Since):
		return fmt.Errorf("%s %s (request %d) needs corosync %s or later; the daemon showed only what corosync %s has", t.Service, ri.Name, id, ri.Since, v)
	}
	return nil
}

// NeedsMain reports whether the table has requests only corosync's main
// branch defines, for which a probe must tell main from 3.1.x.
func (t *Requests) NeedsMain() bool {
	for _, ri := range t.ByID {
		if ri.Name != "" && ri.Since == Unreleased {
			return true
		}
	}
	return false
}

// RequestID returns the id of a whole request message (its header's id),
// or -1 if msg is too short to have one.
func RequestID(msg []byte) int32 {
	if len(msg) < RequestHeaderSize {
		return -1
	}
	return int32(le.Uint32(msg[0:]))
}
