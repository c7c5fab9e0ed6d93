package cpg

import (
	"context"
	"errors"
	"iter"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

// Group is this process's membership of one cpg group, on a connection of
// its own, and the ordered stream of the group's events. Its methods are
// safe for concurrent use; each event is received once, by one reader.
type Group struct {
	c      *Client
	name   cpgwire.Name
	pid    uint32
	cfg    joinConfig
	s      *session.Session[Event]
	nodeID atomic.Uint32

	// The stream from the event pump to the reader: one hand-over, no
	// goroutine in between. The pump never waits for the reader: a pump
	// that stopped reading would make the daemon queue the events for this
	// connection instead.
	qmu    sync.Mutex
	q      []Event // events not yet read: q[qh:]
	qh     int
	qwake  chan struct{} // capacity 1: q may hold an event for a waiting reader
	closed chan struct{} // closed by Close: the stream ends with dispatch.ErrClosed

	feedOnce sync.Once // C: a goroutine feeding a channel, started on demand
	feed     chan Event
	feedOn   atomic.Bool
	feedDone chan struct{}
	waiting  atomic.Int32 // readers parked in next

	failOnce sync.Once
	failed   chan struct{}
	failErr  error

	stopOnce sync.Once
	stop     chan struct{} // closed when the connection is being closed: the pump stops pushing
	sready   chan struct{} // closed once s is set (or Join failed)

	leftOnce sync.Once
	left     chan struct{} // closed when the own leave confchg has been pushed

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

type sender struct{ node, pid uint32 }

type assembly struct {
	want uint32
	buf  []byte
}

// Join joins group on a new connection of its own and returns the
// membership (cpg_initialize + cpg_join with model v1 and the initial totem
// configuration). The stream starts with the daemon's confchg of this join
// (Members includes this process, Joined is this process), then a totem
// event, then messages and changes in the order every member sees them.
//
// One corosync connection can join one group, once: a second join on it is
// refused (EXIST), and after a leave it can never join again (EXIST, BUSY;
// measured, internal/wire/cpgwire/SPEC.md). So each Group owns its connection,
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
	g := &Group{c: c, name: name, pid: cfg.pid, cfg: cfg,
		qwake: make(chan struct{}, 1), closed: make(chan struct{}), failed: make(chan struct{}), stop: make(chan struct{}),
		left: make(chan struct{}), sready: make(chan struct{}), parts: map[sender]*assembly{}}
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
// stream, follow EventConfchg.Members instead.
func (g *Group) Members(ctx context.Context) ([]Member, error) {
	return membership(ctx, g.s, string(g.name))
}

// FlowControlled reports whether a Send is waiting because the daemon
// refused it with TRY_AGAIN (flow control: corosync cannot queue more to
// totem). It is what libcpg's cpg_flow_control_state_get tells, as seen by
// this client.
func (g *Group) FlowControlled() bool { return g.fc.Load() }

// Send multicasts msg to the group (cpg_mcast_joined). Every member, this
// one included, delivers it in the same total order. A message up to
// MaxAtomicMessage goes as one mcast; a larger one as fragments, as libcpg
// sends them, reassembled by every receiver (libcpg's included); messages
// of one Group are sent one at a time, so fragments never interleave.
//
// Flow control (TRY_AGAIN) is waited out with backoff until ctx ends, and a
// message is never sent twice: if Send returns an error, no member
// delivers the message, except when the connection broke after the message
// was handed over (the error then carries corosync.ErrLibrary). A
// fragmented message interrupted by a configuration change
// (CS_ERR_INTERRUPT) is sent again from its first fragment: receivers drop
// the incomplete copy, as libcpg does.
//
// The daemon does not answer an mcast: Send returns when the message is in
// the daemon's request ring, not when it is delivered. guarantee is passed
// on and ignored by corosync.
//
// On a group that is gone, Send fails with corosync.ErrBadHandle (ErrLeft,
// ErrClosed) after the caller's own Leave or Close, and otherwise with
// what ended the stream: ErrMembershipLost (corosync.ErrLibrary) when the
// membership went with the daemon, ErrOverflow (corosync.ErrQueueFull).
func (g *Group) Send(ctx context.Context, msg []byte, guarantee Guarantee) error {
	const op = "cpg mcast"
	if guarantee > Safe {
		return opErr(op, corosync.ErrInvalidParam, "guarantee %d; 0..3 exist", guarantee)
	}
	if uint64(len(msg)) > MaxMessage {
		return opErr(op, corosync.ErrTooBig, "message of %d bytes; at most %d", len(msg), uint64(MaxMessage))
	}
	g.sendMu.Lock()
	defer g.sendMu.Unlock()
	if g.gone.Load() {
		return g.goneErr(op)
	}
	conn, err := g.s.Current()
	if err != nil {
		return err
	}
	defer g.fc.Store(false)
	if len(msg) <= MaxAtomicMessage {
		// The transport copies the request into the daemon's ring before
		// Send returns, so one buffer per group serves every message; one
		// over sendBufKeep is not kept.
		req, err := cpgwire.AppendRequest(g.sendBuf[:0], cpgwire.Request{ID: cpgwire.ReqMcast, Guarantee: guarantee, Payload: msg})
		if err != nil {
			return err
		}
		if cap(req) <= sendBufKeep {
			g.sendBuf = req
		}
		for attempt := 0; ; attempt++ {
			err := conn.Send(ctx, op, req)
			if !errors.Is(err, corosync.ErrTryAgain) {
				return err
			}
			if err := g.wait(ctx, op, attempt); err != nil {
				return err
			}
		}
	}
	return g.sendFragments(ctx, conn, msg, guarantee)
}

// inlineGrace is how long the pump leaves the connection to readers after
// the last one read it (session.Options.InlineGrace): a reader that keeps
// calling Next keeps reading inline; one that stops leaves the daemon's
// events unread for at most about twice this long before the pump reads
// them into the backlog. At totem's fastest (about 90 MB/s here) that is
// under a fifth of the connection's event ring.
const inlineGrace = time.Millisecond

// sendBufKeep is the largest request buffer a group keeps between sends.
const sendBufKeep = 64 << 10

// flowBackoff is b for a group's connection: flow control (TRY_AGAIN on
// mcast and fragments) lifts within a millisecond or so, as libcpg's own
// retry loop assumes, so retries start at 1ms and are capped at 100ms
// (rejoining after a restart is paced the same way).
func flowBackoff(b corosync.Backoff) corosync.Backoff {
	b.Initial = time.Millisecond
	if b.Max <= 0 || b.Max > 100*time.Millisecond {
		b.Max = 100 * time.Millisecond
	}
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	return b
}

// wait sleeps the backoff of a flow-controlled attempt.
func (g *Group) wait(ctx context.Context, op string, attempt int) error {
	g.fc.Store(true)
	t := time.NewTimer(flowBackoff(g.c.cfg.Backoff).Delay(attempt))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return corosync.NewError(op, corosync.ErrTryAgain, ctx.Err())
	case <-g.stop:
		return g.goneErr(op)
	}
}

func (g *Group) sendFragments(ctx context.Context, conn *session.Conn, msg []byte, guarantee Guarantee) error {
	const op = "cpg partial_mcast"
	frags := cpgwire.Fragments(len(msg), 0)
	buf := make([]byte, 0, cpgwire.PartialMcastHeaderSize+cpgwire.MaxFragment)
	var resp [64]byte
	for attempt := 0; ; attempt++ {
		var err error
		for _, f := range frags {
			buf, err = cpgwire.AppendRequest(buf[:0], cpgwire.Request{ID: cpgwire.ReqPartialMcast, Guarantee: guarantee,
				MsgLen: uint32(len(msg)), Type: f.Type, Payload: msg[f.Off : f.Off+f.Len]})
			if err != nil {
				return err
			}
			// Conn.Call waits out TRY_AGAIN itself; fragments, like
			// libcpg's, are held back at both flow-control levels.
			if _, err = conn.Call(ctx, op, buf, cpgwire.ResPartialSend, resp[:0], transport.ThrottledAtLevel2()); err != nil {
				break
			}
		}
		if !errors.Is(err, corosync.ErrInterrupt) {
			return err
		}
		if err := g.wait(ctx, op, attempt); err != nil {
			return err
		}
	}
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
	select {
	case <-g.closed:
		return corosync.NewError(op, corosync.ErrBadHandle, ErrClosed)
	default:
	}
	select {
	case <-g.failed:
		if err := g.failErr; err != ErrLeft {
			return corosync.NewError(op, corosync.Code(err), err)
		}
		return corosync.NewError(op, corosync.ErrBadHandle, ErrLeft)
	default:
	}
	return corosync.NewError(op, corosync.ErrBadHandle, ErrClosed)
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
// connection can never rejoin (SPEC.md), so Join opens a fresh one.
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
	case <-g.failed: // lost or overflowed meanwhile: the stream says so
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

// fail ends the stream with err once the events already pushed are read.
func (g *Group) fail(err error) {
	g.failOnce.Do(func() {
		g.failErr = err
		close(g.failed)
	})
}

// closeStream ends the stream with dispatch.ErrClosed, drops what was not
// read, and waits for C's feeder.
func (g *Group) closeStream() {
	g.qmu.Lock()
	select {
	case <-g.closed:
	default:
		close(g.closed)
	}
	g.q, g.qh = nil, 0
	g.qmu.Unlock()
	g.feedOnce.Do(func() { // no feeder can start now; C returns a closed channel
		g.feed = make(chan Event)
		close(g.feed)
	})
	if g.feedDone != nil {
		<-g.feedDone
	}
}

// take returns the oldest unread event (ok), or why the stream has ended
// (err), or neither while it is live and empty.
func (g *Group) take() (ev Event, ok bool, err error) {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	if err := g.endLocked(); err != nil || g.qh == len(g.q) {
		return Event{}, false, err
	}
	ev = g.q[g.qh]
	g.q[g.qh] = Event{} // let its payload go
	g.qh++
	if g.qh == len(g.q) {
		g.q, g.qh = g.q[:0], 0
	} else {
		g.signal() // more for another waiting reader
	}
	return ev, true, nil
}

// endLocked returns why the stream has ended: dispatch.ErrClosed after
// Close at once, the terminal error once no event before it is left; nil
// while the stream is live. qmu is held.
func (g *Group) endLocked() error {
	select {
	case <-g.closed:
		return dispatch.ErrClosed
	default:
	}
	if g.qh < len(g.q) {
		return nil
	}
	select {
	case <-g.failed:
		return g.failErr
	default:
		return nil
	}
}

func (g *Group) signal() {
	select {
	case g.qwake <- struct{}{}:
	default:
	}
}

// push hands ev to the reader, on the pump goroutine, without waiting: it
// joins the backlog. With a Queue limit, a full backlog fails the group
// (ErrOverflow) and closes its connection.
func (g *Group) push(ev Event) {
	if g.done {
		return
	}
	g.qmu.Lock()
	if g.cfg.limit > 0 && len(g.q)-g.qh >= g.cfg.limit {
		g.qmu.Unlock()
		g.done, g.overflow = true, true
		g.gone.Store(true)
		g.fail(ErrOverflow)
		go g.closeConn() // not here: Close waits for this goroutine
		return
	}
	if g.qh > 64 && g.qh >= len(g.q)/2 { // reuse the read half
		n := copy(g.q, g.q[g.qh:])
		clear(g.q[n:])
		g.q, g.qh = g.q[:n], 0
	}
	g.q = append(g.q, ev)
	g.qmu.Unlock()
	g.signal()
	if g.waiting.Load() > 0 && (g.conn == nil || !g.conn.EventPending()) {
		// A reader is parked for this event and the pump has nothing more
		// to read: let the reader run on this P now, before the pump goes
		// back to the socket (measured: it otherwise waits out the pump's
		// next read, or a wake on the other P). Not while the daemon has
		// more events for us: yielding per event costs throughput
		// (BENCHMARKS.md, cpg).
		runtime.Gosched()
	}
}

// readable reports whether take would return an event or the stream's end.
func (g *Group) readable() bool {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	return g.qh < len(g.q) || g.endLocked() != nil
}

// Backlog returns the number of events received from the daemon that the
// reader has not read yet (once C is in use, not counting the one its
// feeder holds). Under the default delivery (Unbounded) it is
// what a slow reader costs this process; under Queue(n) the group fails
// when it would exceed n.
func (g *Group) Backlog() int {
	g.qmu.Lock()
	defer g.qmu.Unlock()
	return len(g.q) - g.qh
}

// next is Next without C's channel. With nothing in the backlog, the
// reader reads the connection itself (session.ReadInline), as libcpg's
// dispatch does: no goroutine hand-over between the daemon's event and the
// reader (BENCHMARKS.md, cpg latency).
func (g *Group) next(ctx context.Context) (Event, error) {
	<-g.sready
	for {
		ev, ok, err := g.take()
		if ok || err != nil {
			return ev, err
		}
		if g.s != nil {
			r, err := g.s.ReadInline(ctx, g.readable, g.qwake, g.failed, g.closed)
			if err != nil {
				return Event{}, err
			}
			if r != session.InlineUnavailable {
				continue
			}
		}
		g.waiting.Add(1)
		select {
		case <-g.qwake:
		case <-g.failed:
		case <-g.closed:
		case <-ctx.Done():
			g.waiting.Add(-1)
			return Event{}, ctx.Err()
		}
		g.waiting.Add(-1)
	}
}

// C returns a channel the group's events arrive on, closed when the stream
// ends (Err then says why). The first call starts a goroutine that feeds
// it (Close stops it); once C is used, Next, TryNext and Drain read through
// the channel too, so that events stay in order.
func (g *Group) C() <-chan Event {
	g.feedOnce.Do(func() {
		g.feed, g.feedDone = make(chan Event), make(chan struct{})
		g.feedOn.Store(true)
		go func() {
			defer close(g.feedDone)
			defer close(g.feed)
			for {
				ev, err := g.next(context.Background())
				if err != nil {
					return
				}
				select {
				case g.feed <- ev:
				case <-g.closed:
					return
				}
			}
		}()
	})
	return g.feed
}

// Next blocks until an event is available, the stream ends (its terminal
// error: ErrLeft, ErrOverflow, ErrMembershipLost, ...; dispatch.ErrClosed,
// carrying corosync.ErrBadHandle, after Close) or ctx ends (ctx's error).
// It is CS_DISPATCH_ONE.
func (g *Group) Next(ctx context.Context) (Event, error) {
	if g.feedOn.Load() {
		select {
		case ev, ok := <-g.feed:
			if !ok {
				return Event{}, g.Err()
			}
			return ev, nil
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
	return g.next(ctx)
}

// TryNext returns a pending event without blocking, or corosync.ErrTryAgain
// when none is pending, or the terminal error once the stream has ended and
// been read. It is CS_DISPATCH_ONE_NONBLOCKING.
func (g *Group) TryNext() (Event, error) {
	if g.feedOn.Load() {
		select {
		case ev, ok := <-g.feed:
			if !ok {
				return Event{}, g.Err()
			}
			return ev, nil
		default:
			return Event{}, corosync.ErrTryAgain
		}
	}
	ev, ok, err := g.take()
	switch {
	case ok:
		return ev, nil
	case err != nil:
		return Event{}, err
	}
	return Event{}, corosync.ErrTryAgain
}

// Drain returns every pending event, oldest first, without blocking. It is
// CS_DISPATCH_ALL.
func (g *Group) Drain() []Event {
	var out []Event
	for {
		ev, err := g.TryNext()
		if err != nil {
			return out
		}
		out = append(out, ev)
	}
}

// Run calls fn for each event until ctx ends, fn fails, or the stream ends
// (nil after Close). It is CS_DISPATCH_BLOCKING.
func (g *Group) Run(ctx context.Context, fn func(Event) error) error {
	return dispatch.Run(ctx, g.Next, fn)
}

// All returns an iterator over the events; see dispatch.Subscription.All.
func (g *Group) All(ctx context.Context) iter.Seq2[Event, error] { return dispatch.All(ctx, g.Next) }

// Err returns nil while the stream is live, then why it ended: after Close
// dispatch.ErrClosed, otherwise the terminal error once every event before
// it has been read.
func (g *Group) Err() error {
	if g.feedOn.Load() {
		select {
		case <-g.feedDone: // the feeder has handed over everything
		default:
			return nil
		}
	}
	g.qmu.Lock()
	defer g.qmu.Unlock()
	return g.endLocked()
}

// groupService is a group's connection as the session core sees it. Setup,
// Event, Lost and Reconnected run on one goroutine at a time.
type groupService struct{ g *Group }

var _ session.Service[Event] = (*groupService)(nil)

// Setup reads the local node id and joins (model v1, initial totem
// configuration), on the first connection and, with WithRejoin, on every
// new one.
func (s *groupService) Setup(ctx context.Context, conn *session.Conn) (Event, error) {
	g := s.g
	g.conn = conn
	var resp [64]byte
	r, err := call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqLocalGet}, resp[:0])
	if err != nil {
		return Event{}, err
	}
	g.nodeID.Store(r.LocalNodeID)
	_, err = call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqJoin, Group: g.name, PID: g.pid,
		Flags: cpgwire.ModelV1DeliverInitialTotemConf}, resp[:0])
	return Event{}, err
}

// Goodbye finalizes the connection before it is closed (libcpg's
// cpg_finalize): the daemon takes it off its list at once, so it sends no
// more events to it (each would be an error in its log once the socket is
// closed), and a new Join of this pid is not refused with EXIST. The
// daemon still tells the other members this process left (reason procdown,
// unless it left with Leave).
func (s *groupService) Goodbye(ctx context.Context, conn *session.Conn) { finalize(ctx, conn) }

// Event decodes a notification and pushes what it means to the reader.
// Nothing goes to the session's own dispatcher (ok is false).
func (s *groupService) Event(msg []byte) (Event, bool, error) {
	g := s.g
	if g.done {
		return Event{}, false, nil
	}
	h, err := wire.DecodeResponseHeader(msg)
	if err != nil {
		return Event{}, false, corosync.NewError("cpg event", corosync.ErrMessageError, err)
	}
	switch h.ID {
	case cpgwire.EvDeliver, cpgwire.EvPartialDeliver, cpgwire.EvConfchg, cpgwire.EvTotemConfchg:
	default:
		return Event{}, false, nil // an id this client does not know
	}
	e, err := cpgwire.DecodeEventIn(msg, g.name)
	if err != nil {
		return Event{}, false, corosync.NewError("cpg event", corosync.ErrMessageError, err)
	}
	if e.ID != cpgwire.EvTotemConfchg && e.Group != g.name {
		return Event{}, false, nil // a connection holds one group: cannot happen
	}
	switch e.ID {
	case cpgwire.EvDeliver:
		g.push(Event{Kind: EventMessage, Group: string(g.name), Sender: Member{NodeID: e.NodeID, PID: e.PID},
			Data: append([]byte(nil), e.Payload...)})
	case cpgwire.EvPartialDeliver:
		if data, ok := g.reassemble(e); ok {
			g.push(Event{Kind: EventMessage, Group: string(g.name), Sender: Member{NodeID: e.NodeID, PID: e.PID}, Data: data})
		}
	case cpgwire.EvConfchg:
		ev := Event{Kind: EventConfchg, Group: string(g.name), Members: members(e.Members),
			Joined: members(e.Joined), Left: members(e.Left)}
		self := false
		for _, l := range e.Left {
			delete(g.parts, sender{l.NodeID, l.PID}) // its incomplete message will not be completed
			if l.NodeID == g.nodeID.Load() && l.PID == g.pid && l.Reason == cpgwire.ReasonLeave {
				self = true
			}
		}
		g.push(ev)
		if self {
			g.done = true
			g.leftOnce.Do(func() { close(g.left) })
			g.fail(ErrLeft)
		}
	case cpgwire.EvTotemConfchg:
		g.push(Event{Kind: EventTotem, Group: string(g.name), Ring: corosync.RingID{NodeID: e.Ring.NodeID, Seq: e.Ring.Seq},
			Nodes: e.TotemMembers})
	}
	return Event{}, false, nil
}

// reassemble adds a fragment to its sender's message and returns the
// message when complete. Like libcpg, it drops fragments whose first one it
// did not see (the message began before this member joined), and a FIRST
// fragment starts a new message (the sender's previous one was interrupted
// and will be sent again).
func (g *Group) reassemble(e cpgwire.Event) ([]byte, bool) {
	k := sender{e.NodeID, e.PID}
	a := g.parts[k]
	if e.Type == cpgwire.PartialFirst {
		a = &assembly{want: e.MsgLen, buf: make([]byte, 0, min(int(e.MsgLen), 4<<20))}
		g.parts[k] = a
	}
	if a == nil {
		return nil, false
	}
	if a.want != e.MsgLen || uint64(len(a.buf))+uint64(len(e.Payload)) > uint64(a.want) {
		delete(g.parts, k) // inconsistent fragments: no message (libcpg would deliver garbage)
		return nil, false
	}
	a.buf = append(a.buf, e.Payload...)
	if e.Type != cpgwire.PartialLast {
		return nil, false
	}
	delete(g.parts, k)
	if uint32(len(a.buf)) != a.want {
		return nil, false
	}
	return a.buf, true
}

// Lost tells the reader that the membership is gone; without rejoin the
// stream then ends.
func (s *groupService) Lost(why error) Event {
	g := s.g
	clear(g.parts)
	select {
	case <-g.stop: // closing: nothing to tell
		return Event{}
	default:
	}
	g.push(Event{Kind: EventDisconnected, Group: string(g.name), Err: why})
	if !g.cfg.rejoin {
		g.done = true
		g.gone.Store(true)
		g.fail(corosync.NewError(ServiceName, corosync.ErrLibrary, errors.Join(ErrMembershipLost, why)))
	}
	return Event{}
}

// Reconnected tells the reader that the group was joined again.
func (s *groupService) Reconnected(Event) Event {
	s.g.push(Event{Kind: EventRejoined, Group: string(s.g.name)})
	return Event{}
}

func (*groupService) Snapshot(ev Event) Event        { return ev }
func (*groupService) Skip(_ Event, next Event) Event { return next }
