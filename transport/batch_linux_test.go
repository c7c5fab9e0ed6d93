package transport

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// batchServer is the server side of a fake connection: it takes requests
// from the request ring as libqb's dispatch does (the socket wakes it, the
// semaphore says how many, then one byte per processed request), and
// answers each with a 24-byte response whose first byte is the request's.
type batchServer struct {
	t         *testing.T
	req, resp *ring
	fd        int
	queued    []uint32 // the request semaphore's value at each wake-up
	bytes     int      // notification bytes read
}

func newBatchServer(t *testing.T, paths [3]string, fd int) *batchServer {
	return &batchServer{t: t, req: serverRing(t, "request", paths[0]), resp: serverRing(t, "response", paths[1]), fd: fd}
}

// serve answers n requests and reports whether all went as libqb expects.
func (s *batchServer) serve(n int) error {
	for n > 0 {
		pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 5000); err != nil || pfd[0].Revents&unix.POLLIN == 0 {
			return errors.New("no notification byte within 5s")
		}
		avail := s.req.sem.value()
		s.queued = append(s.queued, avail)
		if avail == 0 {
			return errors.New("a notification byte came before its request's post")
		}
		for i := uint32(0); i < avail && n > 0; i++ {
			if !s.req.sem.tryWait() {
				return errors.New("semaphore lost a token")
			}
			msg, err := s.req.read(nil, 1<<20)
			if err != nil {
				return err
			}
			out := make([]byte, 24)
			out[0] = msg[0]
			if err := s.resp.write(out); err != nil {
				return err
			}
			n--
			var b [1]byte
			if _, err := unix.Read(s.fd, b[:]); err != nil {
				return err
			}
			s.bytes++
		}
	}
	return nil
}

// goServe runs serve(n) on a goroutine that the test waits for before the
// rings are unmapped; the channel has its result.
func (s *batchServer) goServe(n int) <-chan error {
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- s.serve(n)
	}()
	s.t.Cleanup(func() { <-done })
	return errc
}

func batchReqs(n, size int) (reqs, resps [][]byte) {
	for i := 0; i < n; i++ {
		r := make([]byte, size)
		r[0] = byte(i + 1)
		reqs = append(reqs, r)
		resps = append(resps, make([]byte, 0, 64))
	}
	return reqs, resps
}

func TestRequestBatch(t *testing.T) {
	ctx := context.Background()
	t.Run("in order, bytes after every post", func(t *testing.T) {
		c, paths, fd, err := connectFakeServer(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := newBatchServer(t, paths, fd)
		for round := 0; round < 3; round++ {
			reqs, resps := batchReqs(5, 32)
			errc := s.goServe(5)
			n, err := c.RequestBatch(ctx, reqs, resps)
			if err != nil || n != 5 {
				t.Fatalf("round %d: %d, %v", round, n, err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			for i, r := range resps {
				if len(r) != 24 || r[0] != byte(i+1) {
					t.Fatalf("response %d: % x", i, r)
				}
			}
			// The first wake-up found all five posted: no byte went out
			// before the last post.
			if s.queued[0] != 5 {
				t.Fatalf("the server woke to %v queued requests, want 5", s.queued)
			}
			s.queued = nil
		}
		if s.bytes != 15 {
			t.Fatalf("%d notification bytes for 15 requests", s.bytes)
		}
		// A plain request still pairs.
		s.goServe(1)
		out, err := c.Request(ctx, []byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
		if err != nil || out[0] != 9 {
			t.Fatalf("request after batches: % x, %v", out, err)
		}
	})
	t.Run("disconnect mid-batch", func(t *testing.T) {
		c, paths, fd, err := connectFakeServer(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := newBatchServer(t, paths, fd)
		served := s.goServe(1)
		go func() {
			<-served
			unix.Shutdown(fd, unix.SHUT_RDWR) // the daemon drops us with two answers owed
		}()
		reqs, resps := batchReqs(3, 32)
		n, err := c.RequestBatch(ctx, reqs, resps)
		if n != 1 || !errors.Is(err, ErrDisconnected) || !errors.Is(err, corosync.ErrLibrary) {
			t.Fatalf("got %d, %v; want 1 answer and ErrDisconnected", n, err)
		}
		if _, err := c.Request(ctx, make([]byte, 16), nil); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("request after the loss: %v", err)
		}
	})
	t.Run("ctx ends mid-batch", func(t *testing.T) {
		c, paths, fd, err := connectFakeServer(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := newBatchServer(t, paths, fd)
		first := s.goServe(1)
		if err := func() error {
			reqs, resps := batchReqs(3, 32)
			// Only the first request is answered before ctx ends.
			cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			n, err := c.RequestBatch(cctx, reqs, resps)
			if n != 1 || !errors.Is(err, corosync.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %d, %v; want 1 answer and ErrTimeout", n, err)
			}
			return nil
		}(); err != nil {
			t.Fatal(err)
		}
		// The two late answers are consumed in the background; the next
		// request reads its own.
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		errc := s.goServe(3)
		out, err := c.Request(ctx, []byte{7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
		if err != nil || out[0] != 7 {
			t.Fatalf("request after an abandoned batch: % x, %v", out, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("responses too big for the ring", func(t *testing.T) {
		c, paths, _, err := connectFakeServer(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := serverRing(t, "request", paths[0])
		reqs, resps := batchReqs(2, 32)
		resps[0], resps[1] = make([]byte, 0, 9000), make([]byte, 0, 9000) // ring: 16 KiB
		if _, err := c.RequestBatch(ctx, reqs, resps); !errors.Is(err, corosync.ErrTooBig) || !strings.Contains(err.Error(), "response ring") {
			t.Fatalf("got %v, want ErrTooBig", err)
		}
		if atomic.LoadUint32(req.u32(hdrWritePt)) != 0 {
			t.Fatal("a request was written")
		}
		if _, _, err := c.checkBatchErr(reqs[:0], resps[:0]); !errors.Is(err, corosync.ErrInvalidParam) {
			t.Fatalf("empty batch: %v", err)
		}
	})
	t.Run("longer response than its buffer", func(t *testing.T) {
		c, paths, fd, err := connectFakeServer(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := newBatchServer(t, paths, fd)
		errc := s.goServe(2)
		reqs, resps := batchReqs(2, 32)
		resps[0], resps[1] = make([]byte, 0, 24), make([]byte, 0, 24) // exactly the answers
		if n, err := c.RequestBatch(ctx, reqs, resps); err != nil || n != 2 {
			t.Fatalf("%d, %v", n, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		// A response longer than its buffer's capacity breaks the bound
		// the batch was checked against: the connection is dropped.
		s.resp.write(make([]byte, 40))
		n, err := c.RequestBatch(ctx, reqs, resps)
		if n != 0 || !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "claims 40 bytes") {
			t.Fatalf("got %d, %v; want ErrDisconnected", n, err)
		}
	})
	t.Run("flow control and a full ring", func(t *testing.T) {
		c, paths, fd, err := connectFakeServer(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := newBatchServer(t, paths, fd)
		atomic.StoreUint32(s.req.u32(hdrUserData), 1)
		reqs, resps := batchReqs(2, 32)
		if n, err := c.RequestBatch(ctx, reqs, resps); n != 0 || !errors.Is(err, corosync.ErrTryAgain) {
			t.Fatalf("fc=1: %d, %v", n, err)
		}
		atomic.StoreUint32(s.req.u32(hdrUserData), 0)
		// Three requests of 6000 bytes in a 16 KiB ring: the third waits.
		reqs, resps = batchReqs(3, 6000)
		errc := s.goServe(2)
		n, err := c.RequestBatch(ctx, reqs, resps)
		if n != 2 || !errors.Is(err, corosync.ErrTryAgain) {
			t.Fatalf("full ring: %d, %v; want 2 answers and ErrTryAgain", n, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if s.bytes != 2 {
			t.Fatalf("%d notification bytes for 2 requests sent", s.bytes)
		}
		errc = s.goServe(1)
		if n, err := c.RequestBatch(ctx, reqs[2:], resps[2:]); n != 1 || err != nil || resps[2][0] != 3 {
			t.Fatalf("the rest: %d, %v", n, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

// After batches that failed every way, closing the connection leaves no
// mapping and no socket behind (goroutines: TestMain's goleak).
func TestRequestBatchReleases(t *testing.T) {
	before := shmMappings()
	ctx := context.Background()
	c, paths, fd, err := dialFakeServer(t, ctx)
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(c.fd))
	s := newBatchServer(t, paths, fd)
	served := s.goServe(1)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	reqs, resps := batchReqs(3, 32)
	if _, err := c.RequestBatch(cctx, reqs, resps); !errors.Is(err, corosync.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	cancel()
	// Close while the abandoned answers are still owed: the background
	// drain must end with it.
	c.Close()
	if _, err := c.RequestBatch(ctx, reqs, resps); !errors.Is(err, ErrClosed) {
		t.Fatalf("batch after Close: %v", err)
	}
	<-served
	s.req.unmap()
	s.resp.unmap()
	if got := shmMappings() - before; got != 0 {
		t.Fatalf("%d mappings left after Close", got)
	}
	if fdOpen(sock) {
		t.Fatalf("socket %s still open after Close", sock)
	}
}
