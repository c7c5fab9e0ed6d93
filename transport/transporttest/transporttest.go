// Package transporttest is a conformance suite for transport.Conn and
// transport.Dialer implementations, in the manner of
// golang.org/x/net/nettest.TestConn: the same call under the same condition
// must give the same corosync.Error code (and the same cause) whatever
// implements the port. It runs against the real libqb connection with a real
// daemon, against the fake libqb servers of package transport's tests, and
// against package mock, so that code tested against mock sees what it will
// see in production.
package transporttest

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/transport"
)

// Target describes one implementation under test. Nil fields skip the
// cases that need them.
type Target struct {
	// Dial opens a connection to the service. It is called once per case.
	Dial func(ctx context.Context) (transport.Conn, error)
	// Request is a valid request message that the service answers and that
	// queues no event (for quorum: getquorate).
	Request []byte
	// Stop makes the daemon go away for good (it runs last).
	Stop func(t *testing.T)
	// DenyAccess makes the next Dial be refused for lack of permission and
	// returns a function that undoes it.
	DenyAccess func(t *testing.T) (undo func())
	// NotReady makes the next Dial meet a daemon that is not ready yet and
	// returns a function that undoes it.
	NotReady func(t *testing.T) (undo func())
}

// Run runs every case that t's target supports, as subtests.
func Run(t *testing.T, tg Target) {
	t.Helper()
	want := func(t *testing.T, what string, err error, code corosync.Error, causes ...error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error; want %v", what, code.Name())
		}
		if got := corosync.Code(err); got != code {
			t.Fatalf("%s: code %s (%v); want %s", what, got.Name(), err, code.Name())
		}
		for _, c := range causes {
			if !errors.Is(err, c) {
				t.Fatalf("%s: %v does not match %v", what, err, c)
			}
		}
	}
	dial := func(t *testing.T) transport.Conn {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := tg.Dial(ctx)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	healthy := func(t *testing.T, c transport.Conn) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Request(ctx, tg.Request, nil); err != nil {
			t.Fatalf("the connection is no longer usable: %v", err)
		}
	}
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	expired := func() context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		_ = cancel // expired already; cancelling changes nothing
		return ctx
	}

	if tg.Dial != nil {
		t.Run("DialCancelled", func(t *testing.T) {
			c, err := tg.Dial(cancelled())
			if err == nil {
				c.Close()
			}
			want(t, "Dial(cancelled ctx)", err, corosync.ErrTimeout, context.Canceled)
		})
		t.Run("DialExpired", func(t *testing.T) {
			c, err := tg.Dial(expired())
			if err == nil {
				c.Close()
			}
			want(t, "Dial(expired ctx)", err, corosync.ErrTimeout, context.DeadlineExceeded)
		})
	}
	if tg.Dial != nil && tg.Request != nil {
		t.Run("RequestCancelled", func(t *testing.T) {
			c := dial(t)
			_, err := c.Request(cancelled(), tg.Request, nil)
			want(t, "Request(cancelled ctx)", err, corosync.ErrTimeout, context.Canceled)
			healthy(t, c)
		})
		t.Run("RequestExpired", func(t *testing.T) {
			c := dial(t)
			_, err := c.Request(expired(), tg.Request, nil)
			want(t, "Request(expired ctx)", err, corosync.ErrTimeout, context.DeadlineExceeded)
			healthy(t, c)
		})
		t.Run("ReadEventCancelled", func(t *testing.T) {
			c := dial(t)
			_, err := c.ReadEvent(cancelled())
			want(t, "ReadEvent(cancelled ctx)", err, corosync.ErrTimeout, context.Canceled)
			healthy(t, c)
		})
		t.Run("ReadEventDeadline", func(t *testing.T) {
			c := dial(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			_, err := c.ReadEvent(ctx)
			want(t, "ReadEvent(ctx that expires while waiting)", err, corosync.ErrTimeout, context.DeadlineExceeded)
			healthy(t, c)
			// And nothing stale is left for the next wait.
			ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel2()
			_, err = c.ReadEvent(ctx2)
			want(t, "second ReadEvent", err, corosync.ErrTimeout, context.DeadlineExceeded)
		})
		t.Run("Closed", func(t *testing.T) {
			c := dial(t)
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			_, err := c.Request(context.Background(), tg.Request, nil)
			want(t, "Request after Close", err, corosync.ErrBadHandle, transport.ErrClosed)
			_, err = c.ReadEvent(context.Background())
			want(t, "ReadEvent after Close", err, corosync.ErrBadHandle, transport.ErrClosed)
		})
		t.Run("CloseUnblocksReadEvent", func(t *testing.T) {
			c := dial(t)
			done := make(chan error, 1)
			go func() {
				_, err := c.ReadEvent(context.Background())
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			c.Close()
			select {
			case err := <-done:
				want(t, "ReadEvent interrupted by Close", err, corosync.ErrBadHandle, transport.ErrClosed)
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not unblock ReadEvent")
			}
		})
	}
	if tg.Dial != nil && tg.DenyAccess != nil {
		t.Run("AccessDenied", func(t *testing.T) {
			undo := tg.DenyAccess(t)
			defer undo()
			c, err := tg.Dial(context.Background())
			if err == nil {
				c.Close()
			}
			want(t, "Dial refused access", err, corosync.ErrAccess)
		})
	}
	if tg.Dial != nil && tg.NotReady != nil {
		t.Run("NotReady", func(t *testing.T) {
			undo := tg.NotReady(t)
			defer undo()
			c, err := tg.Dial(context.Background())
			if err == nil {
				c.Close()
			}
			want(t, "Dial while not ready", err, corosync.ErrTryAgain)
		})
	}
	if tg.Dial != nil && tg.Request != nil && tg.Stop != nil {
		t.Run("DaemonGone", func(t *testing.T) {
			c := dial(t)
			r := dial(t)
			tg.Stop(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := r.ReadEvent(ctx)
			want(t, "ReadEvent after the daemon went away", err, corosync.ErrLibrary, transport.ErrDisconnected)
			_, err = c.Request(ctx, tg.Request, nil)
			want(t, "Request after the daemon went away", err, corosync.ErrLibrary, transport.ErrDisconnected)
			_, err = tg.Dial(ctx)
			want(t, "Dial with no daemon", err, corosync.ErrLibrary)
		})
	}
}
