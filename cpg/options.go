package cpg

import (
	"log/slog"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/transport"
)

// Backoff is a capped exponential backoff with jitter (corosync.Backoff).
type Backoff = corosync.Backoff

// DefaultBackoff is the backoff used unless WithBackoff says otherwise.
var DefaultBackoff = corosync.DefaultBackoff

type config struct {
	session.Options
}

// Option configures Dial.
type Option func(*config)

// WithDialer replaces the transport: for example a test cluster's nodes
// (mock.Node), or transport.NewDialer with a non-default transport.Config.
// Every group of the client dials its own connection through it.
func WithDialer(d transport.Dialer) Option { return func(c *config) { c.Dialer = d } }

// WithReconnect turns automatic reconnection of the client's own connection
// on (the default) or off. It does not rejoin groups: see WithRejoin.
func WithReconnect(on bool) Option { return func(c *config) { c.Reconnect = on } }

// WithWaitForDaemon makes Dial wait, retrying with backoff, for a daemon that
// is not running yet, instead of failing at once with corosync.ErrLibrary.
func WithWaitForDaemon() Option { return func(c *config) { c.WaitForDaemon = true } }

// WithBackoff sets the backoff for reconnection, TRY_AGAIN and flow control.
func WithBackoff(b Backoff) Option { return func(c *config) { c.Backoff = b } }

// WithLogger makes the client log connection changes and retries. The client
// is silent by default.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.Logger = l } }

// DefaultQueue is the number of events a group buffers between the daemon
// and its reader unless Block or Queue says otherwise.
const DefaultQueue = 256

type joinConfig struct {
	pid    uint32
	size   int
	block  bool
	rejoin bool
}

// JoinOption configures Join.
type JoinOption func(*joinConfig)

// WithPID sets the process id the group member is known by (default
// os.Getpid(), as libcpg). The daemon refuses a second member with the same
// pid in the same group on one node (corosync.ErrExist): give each Group of
// one process that joins the same group its own pid.
func WithPID(pid uint32) JoinOption { return func(c *joinConfig) { c.pid = pid } }

// Block selects blocking delivery with a buffer of n events (the default,
// with DefaultQueue): nothing is ever lost; while the reader does not read,
// the group's event pump waits and the daemon queues the group's events for
// this connection, without limit and without slowing the senders (measured,
// internal/cpgwire/SPEC.md "slow reader"): the daemon's memory grows.
func Block(n int) JoinOption {
	return func(c *joinConfig) { c.size, c.block = max(n, 1), true }
}

// Queue selects a bounded queue of n events. When an event arrives with n
// events queued (besides up to 2 in delivery), the group fails: the reader
// gets every event before that one, in order, then
// ErrOverflow (corosync.ErrQueueFull); the connection is closed, so the
// other members see this process leave (reason procdown) right after the
// last event it could take. A member never stays in the group with a gap in
// its stream.
func Queue(n int) JoinOption {
	return func(c *joinConfig) { c.size, c.block = max(n, 1), false }
}

// WithRejoin makes the group join again, on a new connection, after the
// connection to the daemon is lost (a daemon restart, a dropped connection).
// The stream then carries EventDisconnected, EventRejoined and the daemon's
// confchg of the new join: the membership in between (and its messages) was
// not seen. Without it (the default) the stream ends after
// EventDisconnected with ErrMembershipLost.
func WithRejoin(on bool) JoinOption { return func(c *joinConfig) { c.rejoin = on } }
