package cfg

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
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
	ShutdownRequest ShutdownFlags = 0 // COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST
	// ShutdownRegardless asks every tracker, waits for the answers or the
	// timeout, then shuts down whatever they said.
	ShutdownRegardless ShutdownFlags = 1 // COROSYNC_CFG_SHUTDOWN_FLAG_REGARDLESS
	// ShutdownImmediate shuts down at once without asking anyone. It is a
	// flag of the request, not an answer a tracker can give.
	ShutdownImmediate ShutdownFlags = 2 // COROSYNC_CFG_SHUTDOWN_FLAG_IMMEDIATE
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
	ShutdownNo  ShutdownReply = 0 // COROSYNC_CFG_SHUTDOWN_FLAG_NO
	ShutdownYes ShutdownReply = 1 // COROSYNC_CFG_SHUTDOWN_FLAG_YES
)

// String returns "NO", "YES", or the number.
func (r ShutdownReply) String() string { return cfgwire.ShutdownReply(r).String() }

// Event is what a subscription delivers. Its kinds:
//
//   - corosync.EventSnapshot: the current state, first on every subscription
//     and again after a reconnect.
//   - corosync.EventShutdownRequest: the daemon asks this tracker whether it
//     may shut down (Flags says how the answers count). Answer it with
//     Client.ReplyShutdown; only sent with WithShutdownTracking.
//   - corosync.EventShutdownTimedOut: a shutdown request this client issued
//     itself (Client.Shutdown) timed out waiting for the trackers. corosync
//     sends it only to trackers that issued a shutdown; it must not be
//     answered.
//   - corosync.EventDisconnected: the connection was lost; Err says why.
//     Shutdown tracking is off until corosync.EventReconnected.
//   - corosync.EventReconnected: the connection is back, with tracking
//     restored. An corosync.EventSnapshot follows.
type Event struct {
	Kind corosync.EventKind
	// Connected is false on corosync.EventDisconnected (and in a snapshot taken
	// during an outage).
	Connected bool
	// Tracking says whether the client is a shutdown tracker on the current
	// connection.
	Tracking bool
	// LocalNodeID is the local node id, read at each (re)connect; 0 while
	// disconnected.
	LocalNodeID uint32
	// Flags is the pending shutdown's flags, on corosync.EventShutdownRequest
	// and corosync.EventShutdownTimedOut.
	Flags ShutdownFlags
	// Skipped is how many events this subscription missed just before this
	// one because it was slower than the daemon (latest-wins policy).
	Skipped uint64
	// Err is why the connection was lost, on corosync.EventDisconnected.
	Err error
}

// String renders the event on one line, e.g.
// "shutdown-request: flags REQUEST (node 1)".
func (e Event) String() string {
	var body string
	switch e.Kind {
	case corosync.EventDisconnected:
		body = session.LostLine(e.Err)
	case corosync.EventShutdownRequest, corosync.EventShutdownTimedOut:
		body = fmt.Sprintf("flags %s (node %d)", e.Flags, e.LocalNodeID)
	default:
		body = fmt.Sprintf("node %d tracking %t", e.LocalNodeID, e.Tracking)
	}
	return session.EventLine(e.Kind, body, e.Skipped)
}
