package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeConn answers requests from a script and delivers queued events.
type fakeConn struct {
	mu      sync.Mutex
	answers [][]byte // responses, in order
	events  chan []byte
	closed  chan struct{}
	once    sync.Once
	reqs    int
}

func newFakeConn(answers ...[]byte) *fakeConn {
	return &fakeConn{answers: answers, events: make(chan []byte, 16), closed: make(chan struct{})}
}

func (f *fakeConn) Request(ctx context.Context, req, resp []byte, _ ...transport.RequestOption) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		return resp[:0], transport.ClosedError("fake request")
	default:
	}
	f.reqs++
	if len(f.answers) == 0 {
		return resp[:0], transport.LostError("fake request", "script ended", nil)
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return append(resp[:0], a...), nil
}

func (f *fakeConn) Send(ctx context.Context, msg []byte) error {
	_, err := f.Request(ctx, msg, nil)
	return err
}

func (f *fakeConn) ReadEvent(ctx context.Context) ([]byte, error) {
	select {
	case ev := <-f.events:
		return ev, nil
	case <-f.closed:
		return nil, transport.LostError("fake event", "closed", nil)
	case <-ctx.Done():
		return nil, transport.CtxError("fake event", ctx.Err())
	}
}

func (f *fakeConn) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// fakeDialer hands out the scripted connections in order.
type fakeDialer struct {
	mu    sync.Mutex
	conns []*fakeConn
}

func (d *fakeDialer) Dial(ctx context.Context, service string) (transport.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) == 0 {
		return nil, corosync.NewError("dial", corosync.ErrLibrary, errors.New("no daemon"))
	}
	c := d.conns[0]
	d.conns = d.conns[1:]
	return c, nil
}

// ev is a test event; svc a test service whose notifications are responses
// with id 10 (counted) or id 11 (unknown, ignored).
type ev struct {
	kind    string
	n       int
	skipped int
}

type svc struct{ n int }

func (s *svc) Setup(ctx context.Context, c *Conn) (ev, error) {
	if _, err := c.Call(ctx, "test setup", reqMsg(1), 1, nil); err != nil {
		return ev{}, err
	}
	return ev{kind: "snapshot", n: s.n}, nil
}

func (s *svc) Event(msg []byte) (ev, bool, error) {
	h, err := wire.DecodeResponseHeader(msg)
	if err != nil {
		return ev{}, false, err
	}
	if h.ID != 10 {
		return ev{}, false, nil
	}
	s.n++
	return ev{kind: "change", n: s.n}, true, nil
}

func (s *svc) Lost(error) ev            { s.n = 0; return ev{kind: "lost"} }
func (s *svc) Reconnected(e ev) ev      { e.kind = "reconnected"; return e }
func (s *svc) Snapshot(e ev) ev         { e.skipped = 0; return e }
func (s *svc) Skip(dropped, next ev) ev { next.skipped += dropped.skipped + 1; return next }
func (s *svc) End(error)                {}

func reqMsg(id int32) []byte {
	b := make([]byte, wire.RequestHeaderSize)
	wire.PutRequestHeader(b, id)
	return b
}

func respMsg(id int32, code corosync.Error) []byte {
	b := make([]byte, wire.ResponseHeaderSize)
	wire.PutResponseHeader(b, id, code)
	return b
}

// testReqs is the fake service's request table: ids 0 to 5 since 2.4, id 6
// since 3.1.6, id 7 never sent.
var testReqs = &wire.Requests{Service: "test", ByID: []wire.RequestInfo{
	{Name: "R0", Since: corosync.Version2_4}, {Name: "R1", Since: corosync.Version2_4},
	{Name: "R2", Since: corosync.Version2_4}, {Name: "R3", Since: corosync.Version2_4},
	{Name: "R4", Since: corosync.Version2_4}, {Name: "R5", Since: corosync.Version2_4},
	{Name: "NEW", Since: corosync.Version3_1_6}, {},
}}

func opts(d transport.Dialer) Options {
	o := DefaultOptions()
	o.Dialer = d
	o.Probe = Fixed(corosync.Version3_0)
	o.Backoff = corosync.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	return o
}

func next(t *testing.T, sub interface {
	Next(context.Context) (ev, error)
}) ev {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The lifecycle: snapshot, changes, unknown notifications ignored, loss
// (fail-safe), reconnect with a fresh setup, reconnected then snapshot.
func TestLifecycle(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK))
	c2 := newFakeConn(respMsg(0, corosync.ErrTryAgain), respMsg(1, corosync.OK)) // setup retried
	d := &fakeDialer{conns: []*fakeConn{c1, c2}}
	s, err := Dial(context.Background(), testReqs, &svc{}, opts(d))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, err := s.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, sub); e.kind != "snapshot" {
		t.Fatalf("first event %+v", e)
	}
	c1.events <- respMsg(11, corosync.OK) // unknown: ignored, connection kept
	c1.events <- respMsg(10, corosync.OK)
	if e := next(t, sub); e.kind != "change" || e.n != 1 {
		t.Fatalf("change %+v", e)
	}
	c1.Close() // the daemon goes away
	if e := next(t, sub); e.kind != "lost" {
		t.Fatalf("after loss %+v", e)
	}
	if e := next(t, sub); e.kind != "reconnected" || e.n != 0 {
		t.Fatalf("after reconnect %+v", e)
	}
	if e := next(t, sub); e.kind != "snapshot" {
		t.Fatalf("snapshot after reconnect %+v", e)
	}
	if c2.reqs != 2 {
		t.Fatalf("setup made %d requests on the new connection; want 2 (TRY_AGAIN retried)", c2.reqs)
	}
	if l := s.Latest(); l.kind != "snapshot" {
		t.Fatalf("Latest %+v", l)
	}
}

// A response with the wrong id means pairing is lost: the call fails with
// ErrMessageError and the connection is dropped, so the session reconnects.
func TestCallWrongIDDropsConnection(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK), respMsg(7, corosync.OK))
	d := &fakeDialer{conns: []*fakeConn{c1}}
	s, err := Dial(context.Background(), testReqs, &svc{}, opts(d))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Call(context.Background(), "test call", reqMsg(2), 2, nil)
	if !errors.Is(err, corosync.ErrMessageError) {
		t.Fatalf("wrong id: %v", err)
	}
	select {
	case <-c1.closed:
	default:
		t.Fatal("the connection was not dropped")
	}
}

// An error code is returned as such; the generic 24-byte reject (id 0) is
// accepted as the answer to any request.
func TestCallErrorCodes(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK), respMsg(2, corosync.ErrNotExist), respMsg(0, corosync.ErrInvalidParam))
	d := &fakeDialer{conns: []*fakeConn{c1}}
	s, err := Dial(context.Background(), testReqs, &svc{}, opts(d))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Call(context.Background(), "test call", reqMsg(2), 2, nil); !errors.Is(err, corosync.ErrNotExist) {
		t.Fatalf("error reply: %v", err)
	}
	if _, err := s.Call(context.Background(), "test call", reqMsg(5), 5, nil); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Fatalf("generic reject: %v", err)
	}
	s.Close()
	if _, err := s.Call(context.Background(), "test call", reqMsg(5), 5, nil); !errors.Is(err, ErrClosed) || !errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("after Close: %v", err)
	}
}

// Without reconnection, a lost connection ends the subscriptions after the
// fail-safe event.
func TestNoReconnect(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK))
	o := opts(&fakeDialer{conns: []*fakeConn{c1}})
	o.Reconnect = false
	s, err := Dial(context.Background(), testReqs, &svc{}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, _ := s.Subscribe(context.Background())
	next(t, sub)
	c1.Close()
	if e := next(t, sub); e.kind != "lost" {
		t.Fatalf("%+v", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, transport.ErrDisconnected) {
		t.Fatalf("subscription end: %v", err)
	}
}

// endSvc records End.
type endSvc struct {
	svc
	ended chan error
}

func (e *endSvc) End(err error) { e.ended <- err }

// When reconnecting fails with an error retrying cannot fix, the service's
// End hears it (dispatch.ErrLost with the access error) before the
// subscriptions end with the same error; Close calls End once, with
// dispatch.ErrClosed.
func TestEndOnPermanentFailure(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK))
	d := &deniedDialer{fakeDialer: fakeDialer{conns: []*fakeConn{c1}}}
	e := &endSvc{ended: make(chan error, 1)}
	s, err := Dial(context.Background(), testReqs, e, opts(d))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, _ := s.Subscribe(context.Background())
	next(t, sub)
	c1.Close()
	if ev := next(t, sub); ev.kind != "lost" {
		t.Fatalf("%+v", ev)
	}
	select {
	case err := <-e.ended:
		if !errors.Is(err, corosync.ErrAccess) || !errors.Is(err, dispatch.ErrLost) {
			t.Fatalf("End(%v), want the access error as ErrLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("End was not called")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, corosync.ErrAccess) || !errors.Is(err, dispatch.ErrLost) {
		t.Fatalf("subscription end: %v", err)
	}
	s.Close()
	select {
	case err := <-e.ended:
		t.Fatalf("a second End(%v) at Close", err)
	default:
	}

	// Close is an end: once, with ErrClosed.
	e2 := &endSvc{ended: make(chan error, 1)}
	s2, err := Dial(context.Background(), testReqs, e2, opts(&fakeDialer{conns: []*fakeConn{newFakeConn(respMsg(1, corosync.OK))}}))
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s2.Close()
	select {
	case err := <-e2.ended:
		if !errors.Is(err, dispatch.ErrClosed) || !errors.Is(err, corosync.ErrBadHandle) {
			t.Fatalf("End(%v) on Close", err)
		}
	default:
		t.Fatal("Close did not call End")
	}
}

// deniedDialer hands out its connections, then refuses access.
type deniedDialer struct{ fakeDialer }

func (d *deniedDialer) Dial(ctx context.Context, service string) (transport.Conn, error) {
	c, err := d.fakeDialer.Dial(ctx, service)
	if err != nil {
		return nil, corosync.NewError("dial", corosync.ErrAccess, errors.New("denied"))
	}
	return c, nil
}
