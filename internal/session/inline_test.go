package session

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/wire"
)

// inlineSvc delivers its notifications outside the dispatcher, as cpg does:
// id 10 carries a sequence number that goes to got; id 12 is an event for
// the dispatcher. It checks that Event never runs on two goroutines at once.
type inlineSvc struct {
	svc
	in      atomic.Int32
	overlap atomic.Bool
	mu      sync.Mutex
	got     []uint32
	arrived chan struct{} // capacity 1
}

func newInlineSvc() *inlineSvc { return &inlineSvc{arrived: make(chan struct{}, 1)} }

func (s *inlineSvc) Event(msg []byte) (ev, bool, error) {
	if s.in.Add(1) > 1 {
		s.overlap.Store(true)
	}
	defer s.in.Add(-1)
	h, err := wire.DecodeResponseHeader(msg)
	if err != nil {
		return ev{}, false, err
	}
	switch h.ID {
	case 10:
		s.mu.Lock()
		s.got = append(s.got, binary.LittleEndian.Uint32(msg[wire.ResponseHeaderSize:]))
		s.mu.Unlock()
		select {
		case s.arrived <- struct{}{}:
		default:
		}
	case 12:
		return ev{kind: "dispatched"}, true, nil
	}
	return ev{}, false, nil
}

func (s *inlineSvc) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func seqMsg(n uint32) []byte {
	b := make([]byte, wire.ResponseHeaderSize+4)
	wire.PutResponseHeader(b, 10, corosync.OK)
	binary.LittleEndian.PutUint32(b[wire.ResponseHeaderSize:], n)
	return b
}

func dialInline(t *testing.T, grace time.Duration, s *inlineSvc, conns ...*fakeConn) *Session[ev] {
	t.Helper()
	o := opts(&fakeDialer{conns: conns})
	o.InlineGrace = grace
	sess, err := Dial(context.Background(), testReqs, Service[ev](s), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

func never() bool { return false }

// takeOver makes readers the ones reading: a ReadInline that preempts the
// pump and finds nothing. With a long grace the pump then stays out, so
// that the next event is the next ReadInline's (otherwise the pump, which
// reads from Dial on, may read it first).
func takeOver(t *testing.T, sess *Session[ev]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sess.ReadInline(ctx, never, nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadInline on an empty connection: %v", err)
	}
}

// A reader takes the reading over from the pump (preempting its read) and
// reads the event itself; once readers are gone for the grace period, the
// pump reads again.
func TestInlineReadAndPumpTakesOver(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	sess := dialInline(t, 20*time.Millisecond, s, c)
	time.Sleep(10 * time.Millisecond) // let the pump start reading
	c.events <- seqMsg(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for s.count() < 1 {
		r, err := sess.ReadInline(ctx, func() bool { return s.count() >= 1 }, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r == InlineUnavailable {
			t.Fatalf("ReadInline unavailable with a live connection")
		}
	}
	// No reader now: the pump reads the next one into the service.
	c.events <- seqMsg(2)
	for s.count() < 2 {
		select {
		case <-s.arrived:
		case <-ctx.Done():
			t.Fatal("the pump did not read after the readers left")
		}
	}
	if s.overlap.Load() {
		t.Fatal("Event ran on two goroutines at once")
	}
}

// The reader's read counts as inline: while it reads again and again, the
// pump does not read (the events all go through ReadInline's caller).
func TestInlineReaderKeepsReading(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	sess := dialInline(t, time.Hour, s, c)
	takeOver(t, sess)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range uint32(200) {
		c.events <- seqMsg(i)
		before := s.count()
		r, err := sess.ReadInline(ctx, never, nil, nil, nil)
		if err != nil || r != InlineRead {
			t.Fatalf("read %d: %v, %v", i, r, err)
		}
		if s.count() != before+1 {
			t.Fatalf("read %d: the event was not read by this reader", i)
		}
	}
}

// ready says the previous holder handed an event over: ReadInline reads
// nothing.
func TestInlineReadyReadsNothing(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	sess := dialInline(t, time.Hour, s, c)
	takeOver(t, sess) // the pump stays out: only ReadInline could read
	c.events <- seqMsg(1)
	r, err := sess.ReadInline(context.Background(), func() bool { return true }, nil, nil, nil)
	if err != nil || r != InlineWoken {
		t.Fatalf("ReadInline = %v, %v; want InlineWoken", r, err)
	}
	if s.count() != 0 {
		t.Fatal("ReadInline read although ready")
	}
}

// A reader's ctx ends its read; the event read later is not lost.
func TestInlineCtxEnds(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	sess := dialInline(t, 5*time.Millisecond, s, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := sess.ReadInline(ctx, never, nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadInline after ctx ended: %v", err)
	}
	c.events <- seqMsg(7)
	select {
	case <-s.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the pump did not read after the reader's ctx ended")
	}
}

// The connection fails under an inline reader: the pump handles it at once
// (lost, reconnect), as if it had read the failure itself.
func TestInlineFailureGoesToPump(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK))
	c2 := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	sess := dialInline(t, time.Hour, s, c1, c2) // the pump waits only for urgent work
	sub, err := sess.Subscribe(context.Background(), dispatch.Queue(16))
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, sub); e.kind != "snapshot" {
		t.Fatalf("first %+v", e)
	}
	// A dispatcher event read inline reaches the subscribers through the pump.
	takeOver(t, sess)
	c1.events <- respMsg(12, corosync.OK)
	if r, err := sess.ReadInline(context.Background(), never, nil, nil, nil); err != nil || r != InlineRead {
		t.Fatalf("ReadInline = %v, %v", r, err)
	}
	if e := next(t, sub); e.kind != "dispatched" {
		t.Fatalf("dispatched event %+v", e)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		c1.Close()
	}()
	r, err := sess.ReadInline(context.Background(), never, nil, nil, nil)
	if err != nil || r != InlineUnavailable {
		t.Fatalf("ReadInline on a failing connection = %v, %v; want InlineUnavailable", r, err)
	}
	if e := next(t, sub); e.kind != "lost" {
		t.Fatalf("after the failure %+v", e)
	}
	if e := next(t, sub); e.kind != "reconnected" {
		t.Fatalf("after reconnect %+v", e)
	}
	c2.events <- seqMsg(3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for s.count() < 1 {
		if _, err := sess.ReadInline(ctx, func() bool { return s.count() >= 1 }, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// Readers and the pump share the reading: every event is handled once, in
// order, never by two goroutines at once; wake lets a waiting reader go.
func TestInlineConcurrentReaders(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	c.events = make(chan []byte, 4096)
	s := newInlineSvc()
	sess := dialInline(t, 200*time.Microsecond, s, c)
	const total = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.count() < total {
				if r == 2 {
					time.Sleep(time.Millisecond) // a slow reader: the pump steps in
				}
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Millisecond)
				res, err := sess.ReadInline(rctx, never, nil, nil, nil)
				rcancel()
				if err != nil && ctx.Err() != nil {
					return
				}
				if res == InlineUnavailable && err == nil {
					t.Error("unavailable on a live connection")
					return
				}
			}
		}()
	}
	for i := range uint32(total) {
		c.events <- seqMsg(i)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("read %d of %d events", s.count(), total)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.got {
		if n != uint32(i) {
			t.Fatalf("event %d is %d: out of order or lost", i, n)
		}
	}
	if s.overlap.Load() {
		t.Fatal("Event ran on two goroutines at once")
	}
}

// Close while a reader reads inline: the reader returns, nothing leaks
// (TestMain's goleak).
func TestInlineClose(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	o := opts(&fakeDialer{conns: []*fakeConn{c}})
	o.InlineGrace = time.Millisecond
	sess, err := Dial(context.Background(), testReqs, Service[ev](s), o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sess.ReadInline(context.Background(), never, nil, nil, nil)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	sess.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ReadInline did not return after Close")
	}
	if r, _ := sess.ReadInline(context.Background(), never, nil, nil, nil); r != InlineUnavailable {
		t.Fatalf("ReadInline after Close = %v", r)
	}
}

// A reader parked in ReadInline on an idle connection costs no wake-ups of
// the pump (it does not poll for the reader's departure), and once the
// reader leaves the pump takes over within the grace period.
func TestInlineIdleReaderCostsNothing(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK))
	s := newInlineSvc()
	sess := dialInline(t, time.Millisecond, s, c)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	before := sess.gate.wakes.Load()
	if _, err := sess.ReadInline(ctx, never, nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadInline on an idle connection: %v", err)
	}
	// 300 ms parked with a 1 ms grace: a polling pump would wake ~300 times;
	// this one looks for deepSleepAfter grace periods, then sleeps.
	if w := sess.gate.wakes.Load() - before; w > 2*deepSleepAfter {
		t.Fatalf("the pump woke %d times while a reader was parked", w)
	}
	c.events <- seqMsg(1)
	select {
	case <-s.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the pump did not take over after the reader left")
	}
}
