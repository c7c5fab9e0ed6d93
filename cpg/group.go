package cpg

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// Group is this process's membership of one cpg group, on a connection of
// its own, and the ordered stream of the group's events: a
// dispatch.Subscription (Next, TryNext, Drain, Run, C, All, Err, Skipped:
// the stream contract of every service), whose delivery policy is
// Unbounded (the default) or Queue(n), fed by the group's connection with
// no goroutine in between: a reader waiting in Next with nothing pending
// reads the daemon's events on its own goroutine, as libcpg's dispatch
// does. Its methods are safe for concurrent use; each event is received
// once, by one reader.
//
// The stream ends as every stream does (see package dispatch): Close or
// the client's Close (dispatch.ErrClosed, corosync.ErrBadHandle), a Queue
// overflow (ErrOverflow, corosync.ErrQueueFull; the member then leaves), the
// connection gone for good (dispatch.ErrLost with why: without WithRejoin
// also ErrMembershipLost, corosync.ErrLibrary; with it, a rejoin the daemon
// refuses, e.g. corosync.ErrAccess), or, cpg's own end, the group left
// (ErrLeft, once its own leave confchg has been read).
type Group struct {
	*dispatch.Subscription[Event]

	c      *Client
	name   cpgwire.Name
	pid    uint32
	cfg    joinConfig
	s      *session.Session[Event]
	nodeID atomic.Uint32
	feed   *dispatch.Feed[Event] // the stream's producer side: the pump, or a reader reading inline

	stopOnce sync.Once
	stop     chan struct{} // closed when the connection is being closed: the pump stops pushing
	sready   chan struct{} // closed once s is set (or Join failed)

	leftOnce sync.Once
	left     chan struct{} // closed when the own leave confchg has been pushed

	// rctx ends with the stream (groupService.End): a reader reading the
	// connection inline is out of the read before the session says goodbye
	// (transport.IPCConn.Settle must be the only reader).
	rctx    context.Context
	rcancel context.CancelFunc
	ictx    inlineCtx

	sendMu  sync.Mutex  // one message at a time: fragments must not interleave
	sendBuf []byte      // the request being sent, reused under sendMu
	fc      atomic.Bool // the last send met flow control and is waiting
	leave   sync.Mutex  // serialises Leave and Close
	gone    atomic.Bool // left or closed: no more sends

	// The pump's own state (one goroutine at a time).
	conn     *session.Conn // the connection the pump reads
	parts    map[sender]*assembly
	done     bool // own leave seen, or overflowed: ignore further events
	overflow bool
}

var _ dispatch.Stream[Event] = (*Group)(nil)

// Join joins group on a new connection of its own and returns the
// membership (cpg_initialize + cpg_join with model v1 and the initial totem
// configuration). The stream starts with the daemon's confchg of this join
// (Members includes this process, Joined is this process), then a totem
// event, then messages and changes in the order every member sees them.
//
// One corosync connection can join one group, once: a second join on it is
// refused (EXIST), and after a leave it can never join again (EXIST, BUSY;
// measured, docs/cpg-protocol.md in the module). So each Group owns its connection,
// Leave closes it, and joining again is another Join, on a fresh
// connection: a process can hold any number of groups (and the same group
// twice, under two pids: WithPID) at once.
//
// group is 1 to MaxNameLen bytes, compared as bytes: "crmd" and Pacemaker's
// "crmd\x00" are two groups. Errors carry corosync codes:
// corosync.ErrNameTooLong, corosync.ErrExist (this pid is already in group
// on this node), and the dial errors of Dial.
func (c *Client) Join(ctx context.Context, group string, opts ...JoinOption) (*Group, error) {
	name := cpgwire.Name(group)
	if err := name.Check("cpg join"); err != nil {
		return nil, err
	}
	cfg := joinConfig{pid: uint32(os.Getpid())}
	for _, o := range opts {
		o(&cfg)
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, corosync.NewError("cpg join", corosync.ErrBadHandle, ErrClosed)
	}
	g := &Group{c: c, name: name, pid: cfg.pid, cfg: cfg, stop: make(chan struct{}),
		left: make(chan struct{}), sready: make(chan struct{}), parts: map[sender]*assembly{}}
	g.rctx, g.rcancel = context.WithCancel(context.Background())
	policy := dispatch.Unbounded()
	if cfg.limit > 0 {
		policy = dispatch.Queue(cfg.limit)
	}
	g.feed, g.Subscription = dispatch.NewFeed[Event](ServiceName, nil, policy, dispatch.WithInline(groupInline{g}))
	sopts := c.cfg.Options
	sopts.Backoff = flowBackoff(sopts.Backoff)
	sopts.Reconnect = cfg.rejoin
	sopts.WaitForDaemon = false
	sopts.InlineGrace = inlineGrace
	s, err := session.Dial(ctx, cpgwire.Requests, &groupService{g: g}, sopts)
	if err != nil {
		close(g.sready)
		g.closeStream()
		return nil, err
	}
	g.s = s
	close(g.sready)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		g.Close()
		return nil, corosync.NewError("cpg join", corosync.ErrBadHandle, ErrClosed)
	}
	c.groups[g] = struct{}{}
	c.mu.Unlock()
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return string(g.name) }

// PID returns the pid this member joined with.
func (g *Group) PID() uint32 { return g.pid }

// LocalNodeID returns the local node's id, as read when the group joined.
func (g *Group) LocalNodeID() uint32 { return g.nodeID.Load() }

// Self returns this member as other members see it.
func (g *Group) Self() Member { return Member{NodeID: g.LocalNodeID(), PID: g.pid} }

// Members asks the daemon for the group's current members
// (cpg_membership_get). The answer reflects the daemon's state now, which
// may be ahead of the events read so far: for a view consistent with the
// stream, follow corosync.EventConfchg.Members instead.
func (g *Group) Members(ctx context.Context) ([]Member, error) {
	return membership(ctx, g.s, string(g.name))
}

// goneErr is the error of a call on a group that is gone: left or closed
// by the caller (corosync.ErrBadHandle, with ErrLeft or ErrClosed), or
// ended by what ended its stream (the membership lost with the daemon:
// corosync.ErrLibrary and ErrMembershipLost; a Queue reader fallen behind:
// ErrOverflow), never BAD_HANDLE for what the caller did not do.
func (g *Group) goneErr(op string) error {
	select {
	case <-g.left:
		return corosync.NewError(op, corosync.ErrBadHandle, ErrLeft)
	default:
	}
	switch err := g.feed.Cause(); {
	case err == nil || errors.Is(err, ErrClosed):
		return corosync.NewError(op, corosync.ErrBadHandle, ErrClosed)
	case errors.Is(err, ErrLeft):
		return corosync.NewError(op, corosync.ErrBadHandle, ErrLeft)
	default:
		return corosync.NewError(op, corosync.Code(err), err)
	}
}

// Leave leaves the group (cpg_leave) and closes its connection. Every
// member, this one included, gets a confchg with this process in Left
// (reason leave). Leave waits, until ctx ends, for that confchg to be read
// from the daemon: the stream then holds every event up to it and ends with
// ErrLeft once they are read. If ctx ends first (the daemon is slow to
// answer), the group is left and closed anyway, the events not yet read
// from the daemon are discarded, the stream ends with ErrLeft, and Leave
// returns an error carrying corosync.ErrTimeout.
//
// The daemon refuses a leave while it is still completing the join
// (CS_ERR_BUSY: the join has not yet gone round totem, a few milliseconds
// after Join returns). Like libcpg's cpg_leave, Leave asks again until the
// daemon takes it, with a short backoff (libcpg asks again at once),
// bounded by ctx: BUSY never reaches the caller. If ctx ends while the
// daemon still says BUSY, nothing was left: Leave returns an error
// carrying corosync.ErrTimeout, and the group stays joined (Leave again,
// or Close).
//
// Leave finalizes the connection as libcpg's cpg_finalize does, so a new
// Join of this pid is not refused with EXIST, and the daemon sends nothing
// more to the closing connection. To be a member again, Join again: a left
// connection can never rejoin (docs/cpg-protocol.md), so Join opens a fresh one.
//
// Errors: corosync.ErrTimeout (ctx ended, see above); corosync.ErrBadHandle
// with ErrLeft or ErrClosed when the group was already left or closed (or
// overflowed, or lost its membership without WithRejoin);
// corosync.ErrLibrary with ErrNotConnected while the connection is lost (a
// WithRejoin group rejoining, or one whose loss is being delivered), or
// when the daemon goes away meanwhile; corosync.ErrNotExist when the
// daemon no longer knows the membership.
func (g *Group) Leave(ctx context.Context) error {
	const op = "cpg leave"
	g.leave.Lock()
	defer g.leave.Unlock()
	g.sendMu.Lock() // no fragment of ours may be cut by the leave
	if g.gone.Load() {
		g.sendMu.Unlock()
		return g.goneErr(op)
	}
	conn, err := g.s.Current()
	if err != nil {
		g.sendMu.Unlock()
		return err // not connected (corosync.ErrLibrary): the daemon went away
	}
	var resp [64]byte
	req := cpgwire.Request{ID: cpgwire.ReqLeave, Group: g.name, PID: g.pid}
	for attempt := 0; ; attempt++ {
		_, err = call(ctx, conn, req, resp[:0])
		if !errors.Is(err, corosync.ErrBusy) {
			break
		}
		if werr := sleepCtx(ctx, leaveBackoff.Delay(attempt)); werr != nil {
			err = corosync.NewError(op, corosync.ErrTimeout,
				errors.Join(errors.New("the daemon was still completing the join (CS_ERR_BUSY); not left"), werr))
			break
		}
	}
	if err != nil {
		g.sendMu.Unlock()
		return err
	}
	g.gone.Store(true)
	g.sendMu.Unlock()
	var werr error
	select {
	case <-g.left:
	case <-g.feed.Done(): // lost or overflowed meanwhile: the stream says so
	case <-ctx.Done():
		werr = corosync.NewError(op, corosync.ErrTimeout,
			errors.Join(errors.New("left, but the leave confchg was not read before ctx ended; unread events were discarded"), ctx.Err()))
		g.fail(ErrLeft)
	}
	g.closeConn() // finalizes (groupService.Goodbye), then closes
	return werr
}

// leaveBackoff paces Leave's retries while the daemon answers BUSY: the
// join completes within a token rotation or two.
var leaveBackoff = corosync.Backoff{Initial: 200 * time.Microsecond, Max: 10 * time.Millisecond, Multiplier: 2, Jitter: 0.2}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeConn closes the group's connection (and its pump).
func (g *Group) closeConn() {
	g.stopOnce.Do(func() { close(g.stop) })
	<-g.sready
	if g.s != nil {
		g.s.Close()
	}
}

// Close closes the group's connection without leaving: the other members
// see this process leave with reason procdown (as when it dies). The
// stream ends: readers see an error carrying corosync.ErrBadHandle (Run and
// All just return). Events not yet read are dropped. It is idempotent and
// may follow Leave.
//
// The daemon notices the closed connection asynchronously: a Join of the
// same group with the same pid right after Close may be refused with
// corosync.ErrExist for a moment. Leave first to rejoin at once.
func (g *Group) Close() error {
	g.gone.Store(true)
	g.closeConn()
	g.closeStream()
	g.c.mu.Lock()
	delete(g.c.groups, g)
	g.c.mu.Unlock()
	return nil
}

// fail ends the stream with err once the events already pushed are read,
// and gets every inline reader out of its read.
//
// The readers go first: a stream closed while C's feeder reads inline
// waits for that feeder to finish, which it does only once out of its
// read (a Close while the program selects on C elsewhere hung there). A
// reader whose read is cancelled before the end is recorded waits for it
// instead of reading again (groupInline.ReadInline).
func (g *Group) fail(err error) {
	g.rcancel()
	g.feed.End(err)
}

// closeStream ends the stream as closed (dispatch.ErrClosed): what was not
// read is dropped.
func (g *Group) closeStream() { g.fail(nil) }

// push hands ev to the reader, on the goroutine reading the connection (the
// pump, or a reader reading inline), without waiting: it joins the
// backlog. With a Queue limit, a full backlog ends the stream
// (ErrOverflow) and the group leaves: its connection is closed.
func (g *Group) push(ev Event) {
	if g.done {
		return
	}
	if g.feed.Push(ev) {
		return
	}
	g.done = true
	if errors.Is(g.feed.Cause(), ErrOverflow) {
		g.overflow = true
		g.gone.Store(true)
		go g.closeConn() // not here: Close waits for this goroutine
	}
}

// Backlog returns the number of events received from the daemon that the
// reader has not read yet (once C is in use, not counting the one its
// feeder holds). Under the default delivery (Unbounded) it is what a slow
// reader costs this process; under Queue(n) the group fails when it would
// exceed n.
func (g *Group) Backlog() int { return g.feed.Backlog() }
