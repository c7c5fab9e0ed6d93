package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// scriptConn answers each request with do(id) run under no lock; it logs
// the request ids and its close, in order.
type scriptConn struct {
	do     func(ctx context.Context, id int32) ([]byte, error)
	mu     sync.Mutex
	log    []string
	closed chan struct{}
	once   sync.Once
}

func newScriptConn(do func(ctx context.Context, id int32) ([]byte, error)) *scriptConn {
	return &scriptConn{do: do, closed: make(chan struct{})}
}

func (c *scriptConn) note(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

func (c *scriptConn) entries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func (c *scriptConn) Request(ctx context.Context, req, resp []byte, _ ...transport.RequestOption) ([]byte, error) {
	select {
	case <-c.closed:
		return resp[:0], transport.ClosedError("script request")
	default:
	}
	id := wire.RequestID(req)
	c.note("req " + string(rune('0'+id)))
	out, err := c.do(ctx, id)
	return append(resp[:0], out...), err
}

func (c *scriptConn) Send(ctx context.Context, msg []byte) error {
	_, err := c.Request(ctx, msg, nil)
	return err
}

func (c *scriptConn) ReadEvent(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, transport.ClosedError("script event")
	case <-ctx.Done():
		return nil, transport.CtxError("script event", ctx.Err())
	}
}

func (c *scriptConn) Close() error {
	c.once.Do(func() { c.note("close"); close(c.closed) })
	return nil
}

// blockUntilClosed is a request the daemon never answers: it ends when the
// connection is closed (the transport's ClosedError) or ctx ends.
func (c *scriptConn) blockUntilClosed(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, transport.ClosedError("script request")
	case <-ctx.Done():
		return nil, transport.CtxError("script request", ctx.Err())
	}
}

type oneDialer struct{ c transport.Conn }

func (d oneDialer) Dial(context.Context, string) (transport.Conn, error) { return d.c, nil }

// byeSvc is svc with a goodbye: request 3.
type byeSvc struct{ svc }

func (s *byeSvc) Goodbye(ctx context.Context, c *Conn) {
	c.Call(ctx, "test goodbye", reqMsg(3), 3, nil)
}

func noConnClosedText(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "connection closed") {
		t.Errorf("the transport's %q leaks to the caller: %v", "connection closed", err)
	}
}

// A call in flight on a connection the session drops (here: another call
// got a response of the wrong id) fails in the not-connected class, not
// with BAD_HANDLE: the caller did not close anything.
func TestInFlightCallOfDroppedConnIsNotConnected(t *testing.T) {
	var c *scriptConn
	c = newScriptConn(func(ctx context.Context, id int32) ([]byte, error) {
		switch id {
		case 1:
			return respMsg(1, corosync.OK), nil
		case 2:
			return c.blockUntilClosed(ctx)
		}
		return respMsg(9, corosync.OK), nil // wrong id: the session drops the connection
	})
	s, err := Dial(context.Background(), testReqs, &svc{}, opts(oneDialer{c}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inflight := make(chan error, 1)
	go func() {
		_, err := s.Call(context.Background(), "test call", reqMsg(2), 2, nil)
		inflight <- err
	}()
	for len(c.entries()) < 2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Call(context.Background(), "test call", reqMsg(4), 4, nil); !errors.Is(err, corosync.ErrMessageError) {
		t.Fatalf("wrong id: %v", err)
	}
	err = <-inflight
	if !errors.Is(err, corosync.ErrLibrary) || !errors.Is(err, transport.ErrDisconnected) || errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("call in flight on the dropped connection: %v (%s)", err, corosync.Code(err).Name())
	}
	noConnClosedText(t, err)
}

// A call in flight when the caller closes the client fails with
// BAD_HANDLE and the session's ErrClosed.
func TestInFlightCallAtCloseIsBadHandle(t *testing.T) {
	var c *scriptConn
	c = newScriptConn(func(ctx context.Context, id int32) ([]byte, error) {
		if id == 2 {
			return c.blockUntilClosed(ctx)
		}
		return respMsg(id, corosync.OK), nil
	})
	s, err := Dial(context.Background(), testReqs, &svc{}, opts(oneDialer{c}))
	if err != nil {
		t.Fatal(err)
	}
	inflight := make(chan error, 1)
	go func() {
		_, err := s.Call(context.Background(), "test call", reqMsg(2), 2, nil)
		inflight <- err
	}()
	for len(c.entries()) < 2 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	err = <-inflight
	if !errors.Is(err, corosync.ErrBadHandle) || !errors.Is(err, ErrClosed) {
		t.Fatalf("call in flight at Close: %v", err)
	}
	noConnClosedText(t, err)
}

// Close says the service's goodbye on the connection, then closes it.
func TestGoodbyeBeforeClose(t *testing.T) {
	c := newScriptConn(func(ctx context.Context, id int32) ([]byte, error) {
		return respMsg(id, corosync.OK), nil
	})
	s, err := Dial(context.Background(), testReqs, &byeSvc{}, opts(oneDialer{c}))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, want := strings.Join(c.entries(), ","), "req 1,req 3,close"; got != want {
		t.Fatalf("connection saw %s, want %s", got, want)
	}
}

// A setup abandoned by its caller (ctx ends during a setup request) returns
// at once; in the background the abandoned request completes, the service
// says goodbye, and the connection closes. A setup the daemon refuses is
// undone the same way before Dial returns.
func TestSetupUnwound(t *testing.T) {
	release := make(chan struct{})
	c := newScriptConn(func(ctx context.Context, id int32) ([]byte, error) {
		if id == 1 {
			<-ctx.Done()
			return nil, transport.CtxError("script request", ctx.Err())
		}
		<-release // the goodbye waits, as it would behind the abandoned request
		return respMsg(id, corosync.OK), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, testReqs, &byeSvc{}, opts(oneDialer{c}))
	if !errors.Is(err, corosync.ErrTimeout) {
		t.Fatalf("abandoned setup: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Dial returned %v after its ctx ended", d)
	}
	close(release)
	unwinding.Wait()
	if got, want := strings.Join(c.entries(), ","), "req 1,req 3,close"; got != want {
		t.Fatalf("abandoned setup: connection saw %s, want %s", got, want)
	}

	c = newScriptConn(func(ctx context.Context, id int32) ([]byte, error) {
		if id == 1 {
			return respMsg(1, corosync.ErrExist), nil
		}
		return respMsg(id, corosync.OK), nil
	})
	if _, err := Dial(context.Background(), testReqs, &byeSvc{}, opts(oneDialer{c})); !errors.Is(err, corosync.ErrExist) {
		t.Fatalf("refused setup: %v", err)
	}
	if got, want := strings.Join(c.entries(), ","), "req 1,req 3,close"; got != want {
		t.Fatalf("refused setup: connection saw %s, want %s", got, want)
	}
}

// A lost connection gets no goodbye: there is no one to say it to.
func TestNoGoodbyeWhenLost(t *testing.T) {
	c1 := newFakeConn(respMsg(1, corosync.OK))
	c2 := newFakeConn(respMsg(1, corosync.OK), respMsg(3, corosync.OK))
	d := &fakeDialer{conns: []*fakeConn{c1, c2}}
	s, err := Dial(context.Background(), testReqs, &byeSvc{}, opts(d))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscribe(context.Background(), dispatch.Queue(16))
	if err != nil {
		t.Fatal(err)
	}
	next(t, sub)
	c1.Close() // the daemon goes away
	for _, want := range []string{"lost", "reconnected", "snapshot"} {
		if e := next(t, sub); e.kind != want {
			t.Fatalf("got %+v, want %s", e, want)
		}
	}
	if c1.reqs != 1 {
		t.Errorf("the lost connection got %d requests, want 1 (setup only)", c1.reqs)
	}
	s.Close()
	if c2.reqs != 2 {
		t.Errorf("the live connection got %d requests, want 2 (setup and goodbye)", c2.reqs)
	}
}
