package cpg

import (
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
}

type joinConfig struct {
	pid    uint32
	limit  int // events held for the reader; 0: no limit
	rejoin bool
}

// JoinOption configures Join.
type JoinOption func(*joinConfig)

// WithPID sets the process id the group member is known by (default
// os.Getpid(), as libcpg). The daemon refuses a second member with the same
// pid in the same group on one node (corosync.ErrExist): give each Group of
// one process that joins the same group its own pid.
func WithPID(pid uint32) JoinOption { return func(c *joinConfig) { c.pid = pid } }

// Unbounded selects the default delivery: the group's event pump always
// takes events from the daemon as they come and holds those its reader has
// not read yet in this process, without limit. Nothing is lost, the daemon
// never queues events for this connection (so a slow reader costs the
// daemon and the other clients nothing), and the backlog (Group.Backlog)
// grows in this process's memory while the reader is behind. corosync has
// no flow control from a receiver to the senders; see the package
// documentation, "Slow readers".
func Unbounded() JoinOption { return func(c *joinConfig) { c.limit = 0 } }

// Queue bounds the events held for the reader to n. When an event arrives
// with n events held, the group fails: the
// reader gets every event before that one, in order, then ErrOverflow
// (corosync.ErrQueueFull); the connection is closed, so the other members
// see this process leave (reason procdown) right after the last event it
// could take. A member never stays in the group with a gap in its stream.
func Queue(n int) JoinOption {
	return func(c *joinConfig) { c.limit = max(n, 1) }
}

// WithRejoin makes the group join again, on a new connection, after the
// connection to the daemon is lost (a daemon restart, a dropped connection).
// The stream then carries corosync.EventDisconnected,
// corosync.EventReconnected and the daemon's confchg of the new join: the
// membership in between (and its messages) was not seen. Without it (the
// default) the stream ends after corosync.EventDisconnected with
// ErrMembershipLost.
func WithRejoin() JoinOption { return func(c *joinConfig) { c.rejoin = true } }
