// Package session is the core every corosync service client is written on:
// the connection lifecycle (dial, waiting for the daemon, backoff, TRY_AGAIN
// retries, reconnection, Close), a request path that checks each response
// against its request, and the event pump that feeds package dispatch with
// the in-band lifecycle (disconnected, reconnected, snapshot) and a
// fail-safe state while the daemon is away.
//
// A service supplies only what is its own (the Service interface): its setup
// after connect, how a notification decodes and changes its state, and how
// its events say "lost", "reconnected" and "snapshot".
//
// Leaving no trace: a connection the session closes gets the service's
// goodbye first (Goodbyer: what the C library sends at finalize, or what
// stops the daemon's events), then the events the daemon still holds for it
// are taken in (transport.IPCConn.Settle), so the daemon logs no error for
// it; a setup its caller abandons is undone that way in the background. One
// place (Conn.fail) turns the transport's failures into the codes callers
// see: CS_ERR_BAD_HANDLE only for the caller's own Close, the
// not-connected class (CS_ERR_LIBRARY) whenever the daemon went away,
// CS_ERR_TIMEOUT whenever ctx ended (CS_ERR_TRY_AGAIN if the daemon kept
// answering TRY_AGAIN until then).
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

var (
	// ErrClosed is the cause of every error from a closed client, and of
	// the end of its streams (dispatch.ErrClosed, the same value); the
	// error carries corosync.ErrBadHandle, as the C libraries report calls
	// after finalize.
	ErrClosed = dispatch.ErrClosed
	// ErrNotConnected is the cause of every error from a request made while
	// the client is reconnecting; the error carries corosync.ErrLibrary.
	// client.ErrNotConnected, the value every service re-exports.
	ErrNotConnected = client.ErrNotConnected
)

// Options are the connection options every service client offers.
type Options struct {
	// Dialer opens connections; nil means transport.NewDialer with Logger.
	Dialer transport.Dialer
	// Reconnect makes a lost connection come back; without it, the
	// subscriptions end after the fail-safe event. DefaultOptions and
	// OptionsFrom(client.DefaultSettings()) set it; the zero Options does
	// not.
	Reconnect bool
	// WaitForDaemon makes Dial retry, until its ctx ends, while no daemon
	// runs, instead of failing at once with corosync.ErrLibrary.
	WaitForDaemon bool
	// Backoff paces reconnection and TRY_AGAIN retries.
	Backoff corosync.Backoff
	// Logger, if set, receives connection changes and retries.
	Logger *slog.Logger
	// InlineGrace, if positive, lets readers read events on their own
	// goroutine (Session.ReadInline); the pump reads again once no reader
	// has for this long.
	InlineGrace time.Duration
	// Probe learns the daemon's release at each connect, before the
	// service's setup sends anything; nil means ProbeCmap.
	Probe Probe
}

// DefaultOptions returns the defaults: reconnect, DefaultBackoff, silent.
func DefaultOptions() Options {
	return OptionsFrom(client.DefaultSettings())
}

// OptionsFrom returns the options that the common client settings s
// decide.
func OptionsFrom(s client.Settings) Options {
	return Options{Dialer: s.Dialer, Reconnect: s.Reconnect, WaitForDaemon: s.WaitForDaemon, Backoff: s.Backoff, Logger: s.Logger}
}

// Service is what one corosync service supplies to its Session.
//
// Setup, Event, Lost and Reconnected are called by one goroutine at a time
// (Dial's caller for the first Setup, then the session's dispatcher
// goroutine), so the service's state needs no lock of its own. Snapshot and
// Skip may be called from any goroutine and must depend only on their
// arguments.
type Service[E any] interface {
	// Setup prepares a fresh connection (model, tracking, ...) and returns
	// the state as a snapshot event. It runs at Dial and after each
	// reconnect.
	Setup(ctx context.Context, c *Conn) (E, error)
	// Event decodes a notification, folds it into the state, and returns
	// the event to deliver; ok is false for a notification to ignore (an id
	// this client does not know). An error drops the connection.
	Event(msg []byte) (ev E, ok bool, err error)
	// Lost resets the state to fail-safe and returns the event that says the
	// connection was lost, with why.
	Lost(why error) E
	// Reconnected returns the event that says the connection is back, given
	// the fresh snapshot (which is delivered right after it).
	Reconnected(snapshot E) E
	// Snapshot turns the latest event into the first event of a new
	// subscription (and the client's current state).
	Snapshot(latest E) E
	// Skip returns next marked as following dropped, which a latest-wins
	// subscriber did not receive.
	Skip(dropped, next E) E
	// End ends every stream the service delivers outside the session's
	// dispatcher (cmap's tracks, cpg's group) with err: the session has
	// ended, for good. It is called exactly once: first thing in Close
	// (err carries dispatch.ErrClosed), or, on the dispatcher goroutine,
	// when the connection is gone for good (reconnecting failed with an
	// error retrying cannot fix, such as corosync.ErrAccess, or it was lost
	// without Reconnect: err carries dispatch.ErrLost), before the
	// session's own subscriptions end with the same err. A service whose
	// events all go through the dispatcher has nothing to end.
	End(err error)
}

// Goodbyer is implemented by a Service that says goodbye on a connection
// before the session closes it: what its C library sends at finalize
// (libcpg's CPG_FINALIZE), or what makes the daemon stop sending events to
// it (tracking stopped). The daemon logs an error for every event it
// cannot deliver ("event_send retuned -32"), and it sends events to a
// connection until it has seen it close.
//
// Goodbye is called with a bounded ctx on a connection the client closes:
// at Close, and when a setup fails or is abandoned (then possibly on a
// goroutine of its own while the dispatcher runs on: Goodbye must depend
// only on c). It is not called on a connection that was lost. Its errors
// are not reported: the connection is closed anyway.
type Goodbyer interface {
	Goodbye(ctx context.Context, c *Conn)
}

// goodbyeWait bounds a service's goodbye. It only ever waits on a daemon
// that is alive but slow: on a dead one the request fails at once.
const goodbyeWait = 2 * time.Second

// unwinding counts the abandoned setups being undone in the background
// (tests wait for them).
var unwinding sync.WaitGroup

// Session is one service client's connection, reconnected as needed, with
// its dispatcher.
type Session[E any] struct {
	name string // the IPC service name, e.g. "quorum"
	reqs *wire.Requests
	opts Options
	disp *dispatch.Dispatcher[E]
	svc  Service[E]
	gate *gate[E] // nil unless Options.InlineGrace

	endOnce sync.Once // Service.End

	mu     sync.Mutex
	conn   *Conn // nil while reconnecting
	ver    corosync.Version
	closed bool
}

// Dial connects to the service whose request table is reqs (reqs.Service
// is the IPC service name), learns the daemon's release (Options.Probe),
// runs svc's setup, and starts the dispatcher seeded with the setup's
// snapshot. Every request the session's connections send is checked
// against reqs and the daemon's release first (Conn.Call). ctx bounds the
// handshake; TRY_AGAIN answers (daemon starting, sync in progress) are
// retried with backoff until ctx ends.
func Dial[E any](ctx context.Context, reqs *wire.Requests, svc Service[E], opts Options) (*Session[E], error) {
	if opts.Dialer == nil {
		opts.Dialer = transport.NewDialer(transport.Config{Logger: opts.Logger})
	}
	if opts.Probe == nil {
		opts.Probe = ProbeCmap
	}
	s := &Session[E]{name: reqs.Service, reqs: reqs, opts: opts, svc: svc}
	if opts.InlineGrace > 0 {
		s.gate = newGate[E](opts.InlineGrace)
	}
	conn, snap, err := s.establish(ctx, svc, opts.WaitForDaemon, time.Time{})
	if err != nil {
		return nil, err
	}
	s.conn, s.ver = conn, conn.ver
	p := &pump[E]{s: s}
	s.disp = dispatch.Start(context.Background(), p.source,
		dispatch.WithName[E](s.name),
		dispatch.WithSeed(snap),
		dispatch.WithCoalesce(svc.Skip),
		dispatch.WithInitial(svc.Snapshot))
	return s, nil
}

// log logs msg at level, with the service's name, when the user asked for
// a logger.
func (s *Session[E]) log(level slog.Level, msg string, args ...any) {
	if s.opts.Logger != nil {
		s.opts.Logger.LogAttrs(context.Background(), level, msg, slog.Group("corosync", append([]any{"service", s.name}, args...)...))
	}
}

// The "still down" lines of a long outage come at growing spacing: the
// first stillDownFirst after the outage began, each gap twice the last,
// never more than stillDownMax apart. An hour's outage logs about a dozen
// lines at INFO; every retry is at DEBUG.
const (
	stillDownFirst = 10 * time.Second
	stillDownMax   = 10 * time.Minute
)

// Current returns the live connection, or an error saying why there is
// none: ErrClosed (corosync.ErrBadHandle) or ErrNotConnected
// (corosync.ErrLibrary).
func (s *Session[E]) Current() (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, corosync.NewError(s.name, corosync.ErrBadHandle, ErrClosed)
	}
	if s.conn == nil {
		return nil, corosync.NewError(s.name, corosync.ErrLibrary, ErrNotConnected)
	}
	return s.conn, nil
}

// DaemonVersion returns what the last connection learnt of the daemon's
// release (see corosync.Version): a lower bound.
func (s *Session[E]) DaemonVersion() corosync.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ver
}

// Call sends req on the current connection and returns its response; see
// Conn.Call. While reconnecting it fails at once with ErrNotConnected.
func (s *Session[E]) Call(ctx context.Context, op string, req []byte, want int32, resp []byte) ([]byte, error) {
	c, err := s.Current()
	if err != nil {
		return resp[:0], err
	}
	return c.Call(ctx, op, req, want, resp)
}

// Send sends a message without response on the current connection; see
// Conn.Send. While reconnecting it fails at once with ErrNotConnected.
func (s *Session[E]) Send(ctx context.Context, op string, msg []byte) error {
	c, err := s.Current()
	if err != nil {
		return err
	}
	return c.Send(ctx, op, msg)
}

// Subscribe adds a subscription whose first event is the current state,
// from the dispatcher's cache.
func (s *Session[E]) Subscribe(ctx context.Context, opts ...dispatch.SubOption) (*dispatch.Subscription[E], error) {
	if err := ctx.Err(); err != nil {
		return nil, corosync.NewError(s.name+" subscribe", corosync.ErrTimeout, err)
	}
	if _, err := s.Current(); err != nil && errors.Is(err, ErrClosed) {
		return nil, err
	}
	sub, err := s.disp.Subscribe(opts...)
	if err != nil {
		return nil, corosync.NewError(s.name+" subscribe", corosync.Code(err), err)
	}
	return sub, nil
}

// Latest returns the current state: the last event, as a snapshot.
func (s *Session[E]) Latest() E {
	ev, _ := s.disp.Latest()
	return s.svc.Snapshot(ev)
}

// end tells the service the session has ended (Service.End), once.
func (s *Session[E]) end(err error) { s.endOnce.Do(func() { s.svc.End(err) }) }

// Close ends every stream (the service's first: Service.End), closes the
// connection and waits for the dispatcher goroutine to exit. It is
// idempotent.
func (s *Session[E]) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conn := s.conn
	s.conn = nil
	s.mu.Unlock()
	s.end(dispatch.Closed(s.name)) // before the pump stops: a pump blocked on a stream is released
	s.disp.Close()                 // cancels the pump and waits for it
	if conn != nil {
		conn.owned.Store(true) // calls in flight on it fail with ErrClosed
		s.goodbye(conn)
		conn.Close()
	}
	return nil
}

// goodbye lets the service say goodbye on c (Goodbyer), bounded by
// goodbyeWait, then lets the daemon deliver what it still holds for c (see
// transport.IPCConn.Settle), for as long as it keeps delivering, up to
// settleWait.
func (s *Session[E]) goodbye(c *Conn) {
	g, ok := s.svc.(Goodbyer)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), goodbyeWait)
	g.Goodbye(ctx, c)
	cancel()
	if st, ok := c.t.(settler); ok {
		ctx, cancel := context.WithTimeout(context.Background(), settleWait)
		st.Settle(ctx, settleQuiet)
		cancel()
	}
}

// settler is a transport that can take in the events the daemon still
// holds for a connection about to close (transport.IPCConn).
type settler interface {
	Settle(ctx context.Context, quiet time.Duration)
}

// settleQuiet is how long no event must arrive before a connection that
// had a backlog is taken to have received everything: the daemon sends a
// held event in the main loop iteration after the reader frees room, but a
// daemon starved of CPU may take much longer to get there (measured: with
// 20 ms, a make test run at load 6 on 2 cores closed a flooded group early
// and the daemon logged qb_ipcs_event_send errors). Only a connection that
// had a backlog waits this long.
const settleQuiet = 200 * time.Millisecond

// settleWait bounds the settling of a connection whose daemon still
// delivers what it held back for it: after the goodbye the daemon adds
// nothing, so its queue only shrinks, but a reader far behind a flood may
// have left hundreds of MiB in it. A dead daemon ends it at once, a stalled
// one after settleQuiet.
const settleWait = 30 * time.Second

// unwind closes c, a connection whose setup failed, after the service's
// goodbye. If the setup was abandoned (ctx ended), that happens in the
// background, so that the caller does not wait: a request abandoned
// mid-setup is still completed first (the transport consumes its
// response), and the goodbye follows it.
func (s *Session[E]) unwind(ctx context.Context, c *Conn) {
	if ctx.Err() == nil {
		s.goodbye(c)
		c.Close()
		return
	}
	unwinding.Add(1)
	go func() {
		defer unwinding.Done()
		s.goodbye(c)
		c.Close()
	}()
}

// establish connects and runs setup, retrying with backoff: TRY_AGAIN
// always, and any other failure but access and parameter errors when
// retryAll is set. It fails when ctx ends.
//
// The log says, at INFO, the first failure, a "still unreachable" line at
// growing spacing, and the success after a failure ("connected", or
// "reconnected" after a connection lost at lostAt, which is zero for Dial);
// every other retry is at DEBUG.
func (s *Session[E]) establish(ctx context.Context, svc Service[E], retryAll bool, lostAt time.Time) (*Conn, E, error) {
	var zero E
	sawTryAgain := false
	began := lostAt
	if began.IsZero() {
		began = time.Now()
	}
	gap := stillDownFirst
	nextStill := began.Add(gap)
	for attempt := 0; ; attempt++ {
		conn, snap, err := s.setup(ctx, svc)
		if err == nil {
			switch {
			case !lostAt.IsZero():
				s.log(slog.LevelInfo, "reconnected to corosync", "daemon", conn.ver.String(), "after", time.Since(began).Round(time.Millisecond), "attempts", attempt+1)
			case attempt > 0:
				s.log(slog.LevelInfo, "connected to corosync", "daemon", conn.ver.String(), "after", time.Since(began).Round(time.Millisecond), "attempts", attempt+1)
			}
			return conn, snap, nil
		}
		sawTryAgain = sawTryAgain || errors.Is(err, corosync.ErrTryAgain)
		retry := errors.Is(err, corosync.ErrTryAgain) ||
			(retryAll && !errors.Is(err, corosync.ErrAccess) && !errors.Is(err, corosync.ErrInvalidParam) &&
				!errors.Is(err, corosync.ErrNotSupported) && !errors.Is(err, corosync.ErrSecurity))
		if ctx.Err() != nil {
			switch {
			case sawTryAgain && (retry || corosync.Code(err) == corosync.ErrTimeout):
				// The daemon kept answering TRY_AGAIN until ctx ended,
				// whether it ended in the backoff or in the last attempt.
				return nil, zero, ctxEnded(s.name, ctx.Err(), err, true)
			case retry && corosync.Code(err) != corosync.ErrTimeout:
				return nil, zero, ctxEnded(s.name, ctx.Err(), err, false)
			}
			return nil, zero, err
		}
		if !retry {
			return nil, zero, err
		}
		delay := s.opts.Backoff.Delay(attempt)
		switch now := time.Now(); {
		case attempt == 0:
			s.log(slog.LevelInfo, "cannot connect to corosync; retrying", "error", err.Error())
		case !now.Before(nextStill):
			s.log(slog.LevelInfo, "corosync still unreachable; retrying", "error", err.Error(), "for", now.Sub(began).Round(time.Second), "attempts", attempt+1)
			gap = min(2*gap, stillDownMax)
			nextStill = now.Add(gap)
		default:
			s.log(slog.LevelDebug, "connect failed; retrying", "error", err.Error(), "attempt", attempt+1, "delay", delay)
		}
		if werr := sleepCtx(ctx, delay); werr != nil {
			return nil, zero, ctxEnded(s.name, werr, err, sawTryAgain)
		}
	}
}

// ctxEnded is the error of a connect whose ctx ended while it was being
// retried, with ctx's error and the last attempt's: corosync.ErrTryAgain if
// the daemon answered TRY_AGAIN meanwhile (what the caller must see, it
// sees), otherwise corosync.ErrTimeout (waiting for the daemon,
// reconnecting), never a bare context error.
func ctxEnded(service string, ctxErr, last error, tryAgain bool) error {
	code := corosync.ErrTimeout
	if tryAgain {
		code = corosync.ErrTryAgain
	}
	return corosync.NewError("dial "+service, code, fmt.Errorf("%w (last attempt: %w)", ctxErr, last))
}

func (s *Session[E]) setup(ctx context.Context, svc Service[E]) (*Conn, E, error) {
	var zero E
	t, err := s.opts.Dialer.Dial(ctx, s.name)
	if err != nil {
		return nil, zero, wrapOp("dial "+s.name, err)
	}
	conn := &Conn{t: t, reqs: s.reqs, ver: wire.Baseline, backoff: s.opts.Backoff}
	ver, err := s.opts.Probe(ctx, s.opts.Dialer, s.reqs, t, s.opts.Backoff)
	if err != nil {
		s.unwind(ctx, conn)
		return nil, zero, err
	}
	conn.ver = ver
	snap, err := svc.Setup(ctx, conn)
	if err != nil {
		s.unwind(ctx, conn)
		return nil, zero, err
	}
	return conn, snap, nil
}
