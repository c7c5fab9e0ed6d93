// Package streamtest is the conformance suite of the stream contract
// (dispatch.Stream): every event stream of this module (quorum,
// votequorum and cfg subscriptions, cmap tracks, cpg groups) must end the
// same way for the same cause, carry the same errors, and deliver the
// same lifecycle events, on the mock cluster and on a real daemon. A
// service's tests implement Harness and call Run.
//
// The cases:
//
//   - close-stream, close-client: Close of the stream, or of its client,
//     ends it with dispatch.ErrClosed (corosync.ErrBadHandle) at once,
//     discarding unread events; C is closed, Run returns nil, All stops,
//     TryNext and Err report the same error; Close is idempotent.
//   - close-while-reading, close-client-while-reading: the same with
//     readers blocked in Next (one with a ctx that never ends, one with a
//     long one): Close returns, and every reader sees the end at once.
//   - ctx: a ctx that ends makes Next, Run and All return its error and
//     leaves the stream live.
//   - lifecycle: a daemon restart delivers, of the lifecycle events,
//     exactly corosync.EventDisconnected then corosync.EventReconnected,
//     and the stream lives on.
//   - lost: without reconnection, a restart delivers "disconnected", then
//     the stream ends with dispatch.ErrLost and corosync.ErrLibrary.
//   - denied, denied-no-reconnect: the daemon restarts refusing this client
//     (access denied): with reconnection the stream delivers
//     "disconnected" and ends with dispatch.ErrLost and corosync.ErrAccess;
//     without, it ends at the loss (dispatch.ErrLost, corosync.ErrLibrary).
//     It never just stops delivering.
//   - overflow: a Queue(1) stream whose reader falls behind ends with
//     dispatch.ErrOverflow (corosync.ErrQueueFull) after the events it
//     holds, and Skipped counts the lost event.
//   - latest: a LatestWins stream whose reader falls behind skips (Skipped)
//     and lives on; unbounded: an Unbounded stream keeps every event.
package streamtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
)

// Policy is a delivery policy a case asks a harness for.
type Policy int

// Policies.
const (
	Default   Policy = iota // the service's default policy
	Latest                  // dispatch.LatestWins
	Queue                   // dispatch.Queue(Config.N)
	Unbounded               // dispatch.Unbounded
)

// Config says what stream a case needs.
type Config struct {
	Policy    Policy
	N         int  // Queue's length
	Reconnect bool // the client reconnects (a cpg group rejoins) after losing the daemon
}

// Fixture is a client and one stream on it, as a harness opened them. Its
// functions fail the test on error.
type Fixture[E any] struct {
	Stream dispatch.Stream[E]
	// CloseClient closes the client the stream belongs to.
	CloseClient func() error
	// Trigger causes at least one more event on the stream (a lifecycle
	// event will do, e.g. by restarting the daemon, if the stream
	// reconnects).
	Trigger func(t testing.TB)
	// Burst is how many Triggers make a burst of events (0: 20). A harness
	// whose Trigger is slow, such as a real daemon's restart, asks for a
	// few: the cases need a backlog, not a count.
	Burst int
	// Restart restarts the daemon the client talks to and returns once it
	// accepts connections again.
	Restart func(t testing.TB)
	// Deny makes the daemon refuse this client (access denied) from the
	// next start on; nil if the harness cannot (the denied cases are
	// skipped, loudly).
	Deny func(t testing.TB)
}

// Harness is what a service's tests supply.
type Harness[E any] interface {
	// Open returns a fresh client and stream configured by c (closed by
	// the test's cleanup), or false if the service offers no such policy.
	Open(t testing.TB, c Config) (*Fixture[E], bool)
	// Kind returns ev's kind (its Kind field).
	Kind(ev E) corosync.EventKind
}

// Timeout bounds every wait of the suite: a stream that should have ended
// or delivered by then is reported as hung.
var Timeout = 30 * time.Second

// Run runs every case against h.
func Run[E any](t *testing.T, h Harness[E]) {
	cases := []struct {
		name string
		fn   func(*testing.T, Harness[E])
	}{
		{"close-stream", closeStream[E]},
		{"close-client", closeClient[E]},
		{"close-while-reading", func(t *testing.T, h Harness[E]) { closeWhileReading(t, h, false) }},
		{"close-client-while-reading", func(t *testing.T, h Harness[E]) { closeWhileReading(t, h, true) }},
		{"ctx", ctxCancel[E]},
		{"lifecycle", lifecycle[E]},
		{"lost", lost[E]},
		{"denied", denied[E]},
		{"denied-no-reconnect", deniedNoReconnect[E]},
		{"overflow", overflow[E]},
		{"latest", latest[E]},
		{"unbounded", unbounded[E]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, h) })
	}
}

func open[E any](t *testing.T, h Harness[E], c Config) *Fixture[E] {
	t.Helper()
	f, ok := h.Open(t, c)
	if !ok {
		t.Skipf("the service offers no stream with %+v", c)
	}
	return f
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

func isLifecycle(kind corosync.EventKind) bool {
	return kind == corosync.EventDisconnected || kind == corosync.EventReconnected
}

// checkErr checks an end error: every want matches, and the message names
// no internal package.
func checkErr(t *testing.T, what string, err error, want ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: nil error, want %v", what, want)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("%s: %v; want errors.Is(err, %v)", what, err, w)
		}
	}
	if strings.Contains(err.Error(), "dispatch") || strings.Contains(err.Error(), "internal") {
		t.Fatalf("%s: %q names an internal package", what, err)
	}
}

// readToEnd reads events until the stream ends and returns them and the
// end; a stream still live after Timeout fails the test (a hang).
func readToEnd[E any](t *testing.T, s dispatch.Stream[E]) ([]E, error) {
	t.Helper()
	ctx := ctxT(t)
	var evs []E
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the stream did not end within %v (Next: %v, Err: %v) after %d events: it hangs", Timeout, err, s.Err(), len(evs))
			}
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// checkEnded checks every method of an ended stream against want.
func checkEnded[E any](t *testing.T, s dispatch.Stream[E], closed bool, want ...error) {
	t.Helper()
	checkErr(t, "Err", s.Err(), want...)
	_, err := s.TryNext()
	checkErr(t, "TryNext", err, want...)
	if d := s.Drain(); len(d) != 0 {
		t.Fatalf("Drain after the end: %d events", len(d))
	}
	ctx := ctxT(t)
	_, err = s.Next(ctx)
	checkErr(t, "Next", err, want...)
	select {
	case _, ok := <-s.C():
		if ok {
			t.Fatal("C delivered an event after the end")
		}
	case <-ctx.Done():
		t.Fatal("C was not closed after the end")
	}
	err = s.Run(ctx, func(ev E) error { t.Fatalf("Run delivered an event after the end: %+v", ev); return nil })
	if closed {
		if err != nil {
			t.Fatalf("Run after Close: %v, want nil", err)
		}
	} else {
		checkErr(t, "Run", err, want...)
	}
	n := 0
	for _, err := range s.All(ctx) {
		n++
		if closed {
			t.Fatalf("All after Close yielded %v", err)
		}
		checkErr(t, "All", err, want...)
	}
	if !closed && n != 1 {
		t.Fatalf("All after the end yielded %d pairs, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after the end: %v", err)
	}
	checkErr(t, "Err after a later Close", s.Err(), want...) // the first cause stays
}

func closeStream[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 64, Reconnect: true})
	f.Trigger(t)
	if err := f.Stream.Close(); err != nil {
		t.Fatal(err)
	}
	checkEnded(t, f.Stream, true, dispatch.ErrClosed, corosync.ErrBadHandle)
}

func closeClient[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 64, Reconnect: true})
	f.Trigger(t)
	if err := f.CloseClient(); err != nil {
		t.Fatal(err)
	}
	checkEnded(t, f.Stream, true, dispatch.ErrClosed, corosync.ErrBadHandle)
}

func closeWhileReading[E any](t *testing.T, h Harness[E], client bool) {
	f := open(t, h, Config{Policy: Queue, N: 64, Reconnect: true})
	s := f.Stream
	burst := f.Burst
	if burst <= 0 {
		burst = 20
	}
	for range burst { // a burst, read just before Close: the transport may have seen a backlog
		f.Trigger(t)
	}
	for { // nothing pending: the readers below wait (cpg's read the connection inline)
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		_, err := s.Next(dctx)
		cancel()
		if err != nil {
			break
		}
	}
	long, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	errs := make(chan error, 3)
	read := func(ctx context.Context) { // events still arriving are fine; the end must come
		for {
			if _, err := s.Next(ctx); err != nil {
				errs <- err
				return
			}
		}
	}
	go read(context.Background())
	go read(long)
	time.Sleep(20 * time.Millisecond) // both readers waiting
	closed := make(chan error, 1)
	go func() {
		if client {
			closed <- f.CloseClient()
		} else {
			closed <- s.Close()
		}
	}()
	deadline := time.After(Timeout)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-deadline:
		t.Fatalf("Close did not return within %v while readers waited in Next: it hangs", Timeout)
	}
	for range 2 {
		select {
		case err := <-errs:
			checkErr(t, "a waiting reader's Next", err, dispatch.ErrClosed, corosync.ErrBadHandle)
		case <-deadline:
			t.Fatal("a reader waiting in Next did not see the end")
		}
	}
	checkEnded(t, s, true, dispatch.ErrClosed, corosync.ErrBadHandle)
}

func ctxCancel[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 64, Reconnect: true})
	s := f.Stream
	s.Drain()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; ; i++ { // pending events are a fine answer too; once they are read, ctx's error
		_, err := s.Next(ctx)
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil || i == 1000 {
			t.Fatalf("Next with an ended ctx: %v", err)
		}
	}
	if err := s.Run(ctx, func(E) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with an ended ctx: %v", err)
	}
	for _, err := range s.All(ctx) {
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("All with an ended ctx: %v", err)
		}
	}
	for i := 0; ; i++ { // a deadline with nothing pending, once the events of opening have come
		dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := s.Next(dctx)
		dcancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil || i == 100 {
			t.Fatalf("Next with a deadline and nothing pending: %v", err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err after ctx ended: %v; the stream must stay live", err)
	}
	f.Trigger(t)
	if _, err := s.Next(ctxT(t)); err != nil {
		t.Fatalf("Next after ctx cancels: %v", err)
	}
}

// lifecycleKinds reads until kind stop (or the end) and returns the
// lifecycle kinds seen, in order.
func lifecycleKinds[E any](t *testing.T, h Harness[E], s dispatch.Stream[E], stop corosync.EventKind) ([]corosync.EventKind, error) {
	t.Helper()
	ctx := ctxT(t)
	var kinds []corosync.EventKind
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("no %s within %v (lifecycle so far %v; Err %v): the stream hangs", stop, Timeout, kinds, s.Err())
			}
			return kinds, err
		}
		k := h.Kind(ev)
		if isLifecycle(k) {
			kinds = append(kinds, k)
		}
		if k == stop {
			return kinds, nil
		}
	}
}

func lifecycle[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 256, Reconnect: true})
	f.Stream.Drain()
	f.Restart(t)
	kinds, err := lifecycleKinds(t, h, f.Stream, corosync.EventReconnected)
	if err != nil {
		t.Fatalf("the stream ended across a restart: %v (lifecycle %v)", err, kinds)
	}
	if !slices.Equal(kinds, []corosync.EventKind{corosync.EventDisconnected, corosync.EventReconnected}) {
		t.Fatalf("lifecycle events %v, want [disconnected reconnected]", kinds)
	}
	if err := f.Stream.Err(); err != nil {
		t.Fatalf("Err after a reconnect: %v", err)
	}
	f.Trigger(t)
	if _, err := f.Stream.Next(ctxT(t)); err != nil {
		t.Fatalf("Next after the reconnect: %v", err)
	}
}

// endsAfterDisconnected reads the stream to its end and checks that the
// last lifecycle event was "disconnected" and the end matches want.
func endsAfterDisconnected[E any](t *testing.T, h Harness[E], s dispatch.Stream[E], want ...error) {
	t.Helper()
	evs, err := readToEnd(t, s)
	var kinds []corosync.EventKind
	for _, ev := range evs {
		if k := h.Kind(ev); isLifecycle(k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != corosync.EventDisconnected {
		t.Fatalf("lifecycle before the end %v, want it to close with disconnected", kinds)
	}
	checkErr(t, "Next at the end", err, want...)
	t.Logf("ended after %v: %v", kinds, err)
	checkEnded(t, s, false, want...)
}

func lost[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 256, Reconnect: false})
	f.Restart(t)
	endsAfterDisconnected(t, h, f.Stream, dispatch.ErrLost, corosync.ErrLibrary)
}

func denied[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 256, Reconnect: true})
	if f.Deny == nil {
		t.Skip("the harness cannot make the daemon refuse its client")
	}
	f.Deny(t)
	f.Restart(t)
	endsAfterDisconnected(t, h, f.Stream, dispatch.ErrLost, corosync.ErrAccess)
}

func deniedNoReconnect[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 256, Reconnect: false})
	if f.Deny == nil {
		t.Skip("the harness cannot make the daemon refuse its client")
	}
	f.Deny(t)
	f.Restart(t)
	endsAfterDisconnected(t, h, f.Stream, dispatch.ErrLost, corosync.ErrLibrary)
}

func overflow[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Queue, N: 1, Reconnect: true})
	deadline := time.Now().Add(Timeout)
	for i := 0; ; i++ {
		// The stream ends at the overflow but reports it only after the
		// event it holds: Skipped says at once.
		if f.Stream.Skipped() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no overflow after %d triggers of a Queue(1) stream nobody reads", i)
		}
		f.Trigger(t)
		time.Sleep(10 * time.Millisecond)
	}
	evs, err := readToEnd(t, f.Stream)
	if len(evs) > 1 {
		t.Fatalf("a Queue(1) stream delivered %d events before its overflow", len(evs))
	}
	checkErr(t, "Next at the end", err, dispatch.ErrOverflow, corosync.ErrQueueFull)
	checkEnded(t, f.Stream, false, dispatch.ErrOverflow, corosync.ErrQueueFull)
	if f.Stream.Skipped() == 0 {
		t.Fatal("Skipped is 0 after an overflow")
	}
}

func latest[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Latest, Reconnect: true})
	deadline := time.Now().Add(Timeout)
	for f.Stream.Skipped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a LatestWins stream nobody reads skipped nothing")
		}
		f.Trigger(t)
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := f.Stream.Next(ctxT(t)); err != nil {
		t.Fatalf("Next after skips: %v", err)
	}
	if err := f.Stream.Err(); err != nil {
		t.Fatalf("a LatestWins stream ended: %v", err)
	}
}

func unbounded[E any](t *testing.T, h Harness[E]) {
	f := open(t, h, Config{Policy: Unbounded, Reconnect: true})
	for range 5 {
		f.Trigger(t)
		time.Sleep(200 * time.Millisecond) // each trigger its own events (a restart: after the reconnect)
	}
	if n := len(f.Stream.Drain()); n < 5 {
		t.Fatalf("an Unbounded stream held %d events of at least 5", n)
	}
	if f.Stream.Skipped() != 0 || f.Stream.Err() != nil {
		t.Fatalf("an Unbounded stream lost events (Skipped %d, Err %v)", f.Stream.Skipped(), f.Stream.Err())
	}
}
