package transport

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// recorder is a deadline setter that remembers the last deadline, and can be
// made slow when asked to set a past deadline: the window in which a
// context.AfterFunc that is already running races with a reset.
type recorder struct {
	mu   sync.Mutex
	last time.Time
	slow time.Duration
}

func (r *recorder) set(t time.Time) error {
	if !t.IsZero() && t.Before(time.Now()) {
		time.Sleep(r.slow)
	}
	r.mu.Lock()
	r.last = t
	r.mu.Unlock()
	return nil
}

func (r *recorder) get() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// TestBindCtxLeavesNoStaleDeadline is the root of both deadline races: ctx
// ends while the call is returning, its AfterFunc is already running but has
// not yet set the past deadline when the call resets it. release must wait
// for it, so the deadline it leaves is cleared.
func TestBindCtxLeavesNoStaleDeadline(t *testing.T) {
	for i := 0; i < 20; i++ {
		r := &recorder{slow: 5 * time.Millisecond}
		ctx, cancel := context.WithCancel(context.Background())
		release := bindCtx(ctx, r.set)
		cancel()
		time.Sleep(time.Duration(i%3) * time.Millisecond) // sometimes before, sometimes in the AfterFunc
		release()
		time.Sleep(10 * time.Millisecond) // any straggling AfterFunc would have landed by now
		if got := r.get(); !got.IsZero() {
			t.Fatalf("iteration %d: deadline left at %v after release", i, got)
		}
	}
}

func TestBindCtxInterruptsOnCancel(t *testing.T) {
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	release := bindCtx(ctx, r.set)
	if !r.get().IsZero() {
		t.Fatalf("deadline %v before ctx ended", r.get())
	}
	cancel()
	deadline := time.Now().Add(time.Second)
	for !r.get().Equal(longAgo) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !r.get().Equal(longAgo) {
		t.Fatalf("cancel did not interrupt: deadline %v", r.get())
	}
	release()
	if !r.get().IsZero() {
		t.Fatalf("release left %v", r.get())
	}
}

// connectFakeServer is connectFake that also returns the server's end of the
// socket, to send event notification bytes.
func connectFakeServer(t *testing.T, ctx context.Context) (*IPCConn, [3]string, int, error) {
	t.Helper()
	c, paths, fd, err := dialFakeServer(t, ctx)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, paths, fd, err
}

// dialFakeServer is connectFakeServer without the Close at the test's end.
func dialFakeServer(t *testing.T, ctx context.Context) (*IPCConn, [3]string, int, error) {
	t.Helper()
	var paths [3]string
	srv := make(chan int, 1)
	f := newFake(t, func(f *fakeServer, fd int) {
		paths = f.rings(4096)
		srv <- fd
		writeAll(fd, authResp{connType: 1, maxMsg: 12328, paths: paths}.bytes())
	})
	c, err := Dial(ctx, f.service, Config{AllowNonRootServer: true})
	if err != nil {
		return nil, paths, -1, err
	}
	return c, paths, <-srv, nil
}

// pushEvent posts one event as a libqb server does: chunk, semaphore, byte.
func pushEvent(t *testing.T, ev *ring, fd int) {
	t.Helper()
	msg := make([]byte, 24)
	msg[8] = 24
	if err := ev.write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte{24}); err != nil {
		t.Fatal(err)
	}
}

// Regression: ReadEvent whose ctx ends just as the read returns must not
// leave a past deadline behind, or the next ReadEvent with a healthy ctx
// fails at once and kills the connection.
func TestReadEventCancelRaceLeavesConnUsable(t *testing.T) {
	c, paths, srv, err := connectFakeServer(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev := serverRing(t, "event", paths[2])
	for i := 0; i < 300; i++ {
		pushEvent(t, ev, srv)
		ctx, cancel := context.WithCancel(context.Background())
		go cancel() // races with the read returning
		if _, err := c.ReadEvent(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("iteration %d: %v", i, err)
		} else if err != nil {
			// Cancelled before the event was read: read it now.
			if _, err := c.ReadEvent(context.Background()); err != nil {
				t.Fatalf("iteration %d: read after a cancelled read: %v", i, err)
			}
		}
		// The healthy read must wait for the next event, not fail.
		pushEvent(t, ev, srv)
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.ReadEvent(hctx)
		hcancel()
		if err != nil {
			t.Fatalf("iteration %d: healthy ReadEvent after a cancelled one: %v", i, err)
		}
	}
}

// Regression: ctx ending while Dial maps the rings must not leave a 1970
// deadline on the socket of a connection that Dial returns.
func TestDialCancelWhileMappingLeavesNoDeadline(t *testing.T) {
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		testHookRingsMapped = func() {
			cancel()
			time.Sleep(time.Duration(i%3) * time.Millisecond)
		}
		c, paths, srv, err := connectFakeServer(t, ctx)
		testHookRingsMapped = nil
		if err != nil {
			if !errors.Is(err, corosync.ErrTimeout) {
				t.Fatalf("iteration %d: dial cancelled while mapping: %v, want ErrTimeout", i, err)
			}
			continue
		}
		ev := serverRing(t, "event", paths[2])
		pushEvent(t, ev, srv)
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.ReadEvent(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("iteration %d: first ReadEvent after a dial whose ctx ended: %v", i, err)
		}
	}
}

func shmMappings() int {
	b, _ := readMaps()
	return strings.Count(b, "/dev/shm/qb-cgfake-")
}

// A connection dropped without Close has its mappings released by the
// garbage collector.
// That holds also after an event was read with a ctx that outlives the
// connection: the ctx's binding must not keep the connection reachable.
func TestLeakedConnReleasesMappings(t *testing.T) {
	before := shmMappings()
	live, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sock string // the client socket, as /proc/self/fd names it
	func() {
		c, paths, srv, err := dialFakeServer(t, context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := shmMappings() - before; got != 6 {
			t.Fatalf("%d mappings after dial, want 6", got)
		}
		ev := serverRing(t, "event", paths[2])
		pushEvent(t, ev, srv)
		ev.unmap() // the server's view; only the client's mappings are counted
		if _, err := c.ReadEvent(live); err != nil {
			t.Fatal(err)
		}
		sock, _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(c.fd))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for (shmMappings() > before || fdOpen(sock)) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := shmMappings() - before; got != 0 {
		t.Fatalf("%d mappings left after the connection became garbage", got)
	}
	if fdOpen(sock) {
		t.Fatalf("the socket %s of the dropped connection is still open (held by the live ctx?)", sock)
	}
}

// fdOpen reports whether any descriptor of the process refers to target
// (a /proc/self/fd link such as "socket:[1234]").
func fdOpen(target string) bool {
	es, _ := os.ReadDir("/proc/self/fd")
	for _, e := range es {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l == target {
			return true
		}
	}
	return false
}

// A dispatcher reads every event with one long-lived ctx: the binding is
// kept between calls, so a read of a waiting event allocates nothing.
func TestReadEventHeldCtxAllocatesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, paths, srv, err := connectFakeServer(t, ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev := serverRing(t, "event", paths[2])
	const n = 100
	for range n + 1 {
		pushEvent(t, ev, srv)
	}
	allocs := testing.AllocsPerRun(n, func() {
		if _, err := c.ReadEvent(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadEvent with a held ctx: %.1f allocations per event, want 0", allocs)
	}
}

// The held binding follows the ctx: one that ended between calls fails the
// next call with it, and leaves nothing behind for a call with another ctx;
// one that ends during a wait interrupts it.
func TestReadEventHeldCtxEnds(t *testing.T) {
	c, paths, srv, err := connectFakeServer(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev := serverRing(t, "event", paths[2])
	for i := range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		pushEvent(t, ev, srv)
		if _, err := c.ReadEvent(ctx); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		cancel() // between calls: its AfterFunc sets a past deadline
		pushEvent(t, ev, srv)
		if _, err := c.ReadEvent(ctx); !errors.Is(err, context.Canceled) || !errors.Is(err, corosync.ErrTimeout) {
			t.Fatalf("iteration %d: ReadEvent with the ended ctx: %v, want Canceled", i, err)
		}
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.ReadEvent(hctx)
		hcancel()
		if err != nil {
			t.Fatalf("iteration %d: ReadEvent with a new ctx after the held one ended: %v", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	pushEvent(t, ev, srv)
	if _, err := c.ReadEvent(ctx); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := c.ReadEvent(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("held ctx cancelled during the wait: %v", err)
	}
}

// A notification byte with no event behind it (not libqb's protocol) is
// taken and forgotten: it neither produces an event nor makes the reader
// skip the byte of a later one.
func TestReadEventStrayByte(t *testing.T) {
	c, paths, srv, err := connectFakeServer(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev := serverRing(t, "event", paths[2])
	read := func(what string, d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := c.ReadEvent(ctx)
		return err
	}
	for i := range 3 {
		if _, err := unix.Write(srv, []byte{0}); err != nil {
			t.Fatal(err)
		}
		if err := read("stray byte alone", 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: a stray byte gave %v, want a timeout", i, err)
		}
		pushEvent(t, ev, srv)
		pushEvent(t, ev, srv)
		for k := range 2 {
			if err := read("event", 5*time.Second); err != nil {
				t.Fatalf("round %d: event %d after a stray byte: %v", i, k, err)
			}
		}
		if err := read("nothing", 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: with nothing sent: %v, want a timeout", i, err)
		}
	}
	// Every byte was taken: the socket holds none.
	var b [1]byte
	if n, _, err := unix.Recvfrom(c.fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT); n > 0 || err != unix.EAGAIN {
		t.Fatalf("socket after the reads: %d bytes, %v", n, err)
	}
}

// EventPending tells whether the next event was already there when the
// last one was read.
func TestEventPending(t *testing.T) {
	c, paths, srv, err := connectFakeServer(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev := serverRing(t, "event", paths[2])
	if c.EventPending() {
		t.Fatal("EventPending before any event")
	}
	pushEvent(t, ev, srv)
	pushEvent(t, ev, srv)
	for i, want := range []bool{true, false} {
		if _, err := c.ReadEvent(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := c.EventPending(); got != want {
			t.Fatalf("after event %d: EventPending %v, want %v", i+1, got, want)
		}
	}
}
