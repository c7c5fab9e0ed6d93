package transport_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) {
	if name := os.Getenv("CGTEST_IMPOSTOR"); name != "" {
		impostor(name)
		return
	}
	if spec := os.Getenv("CGTEST_DYING"); spec != "" {
		dyingServer(spec)
		return
	}
	goleak.VerifyTestMain(m)
}

// impostor runs (as a non-root user) a server on abstract socket name that
// answers the libqb handshake: anyone can bind an abstract name.
func impostor(name string) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		os.Exit(3)
	}
	var sa [110]byte
	sa[0] = unix.AF_UNIX
	copy(sa[3:], name)
	if _, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), 110); e != 0 {
		os.Exit(4)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	unix.Listen(fd, 1)
	os.Stdout.WriteString("listening\n")
	cfd, _, err := unix.Accept(fd)
	if err != nil {
		os.Exit(5)
	}
	unix.SetsockoptInt(cfd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	buf := make([]byte, 12328)
	unix.Read(cfd, buf[:24])
	for i := range buf {
		buf[i] = 0
	}
	buf[0], buf[1], buf[2], buf[3] = 0xff, 0xff, 0xff, 0xff
	unix.Write(cfd, buf)
	time.Sleep(2 * time.Second)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dialNode(t *testing.T, n *corotest.Node, cfg transport.Config) *transport.IPCConn {
	t.Helper()
	cfg.NetNS = n.NetNSPath()
	c, err := transport.Dial(ctxFor(t, 10*time.Second), "quorum", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call sends request id and decodes its response, checking the response id:
// a stale response left by an abandoned call would fail here.
func call(ctx context.Context, c transport.Conn, id int32, arg uint32) (quorumwire.Response, error) {
	var rb [64]byte
	resp, err := c.Request(ctx, quorumwire.AppendRequest(nil, id, arg), rb[:0])
	if err != nil {
		return quorumwire.Response{}, err
	}
	r, err := quorumwire.DecodeResponse(resp, id)
	if err != nil {
		return r, err
	}
	if r.Error != corosync.OK {
		return r, r.Error
	}
	return r, nil
}

// daemonHealthy checks the rules that keep corosync safe: its own tool
// answers promptly, and its log never saw a notification byte without a
// request ("Nothing in q but got POLLIN").
func daemonHealthy(t *testing.T, n *corotest.Node) time.Duration {
	t.Helper()
	start := time.Now()
	if _, out, err := n.QuorumTool(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("corosync-quorumtool failed: %v\n%s", err, out)
	}
	took := time.Since(start)
	if took > 2*time.Second {
		t.Errorf("corosync-quorumtool took %v", took)
	}
	if strings.Contains(n.Log(), "Nothing in q but got POLLIN") {
		t.Errorf("daemon log has 'Nothing in q but got POLLIN': the socket-byte protocol was broken")
	}
	return took
}

func TestRealRequestsAndEvents(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	c := dialNode(t, n, transport.Config{})
	ctx := ctxFor(t, 30*time.Second)
	if r, err := call(ctx, c, quorumwire.ReqModelGetType, quorumwire.ModelV1); err != nil || r.Value != 1 {
		t.Fatalf("model_gettype: %+v %v", r, err)
	}
	if r, err := call(ctx, c, quorumwire.ReqGetQuorate, 0); err != nil || r.Value != 1 {
		t.Fatalf("getquorate: %+v %v", r, err)
	}
	// An unknown request id gets the daemon's generic reject.
	var rb [64]byte
	resp, err := c.Request(ctx, quorumwire.AppendRequest(nil, 99, 0), rb[:0])
	if err != nil {
		t.Fatal(err)
	}
	if h, err := wire.DecodeResponseHeader(resp); err != nil || h.ID != 0 || h.Error != corosync.ErrInvalidParam {
		t.Fatalf("reject: %+v %v", h, err)
	}
	// Trackstart: the snapshot is queued before the response.
	if _, err := call(ctx, c, quorumwire.ReqTrackStart, quorumwire.TrackChanges); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int32{quorumwire.EvV1NodelistNotification, quorumwire.EvV1QuorumNotification} {
		b, err := c.ReadEvent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := quorumwire.DecodeEvent(b)
		if err != nil || ev.ID != want {
			t.Fatalf("snapshot event: %+v %v", ev, err)
		}
	}
	// Flip quorum and read the notifications.
	for _, v := range []int{2, 1} {
		if err := n.SetExpectedVotes(ctx, v); err != nil {
			t.Fatal(err)
		}
		b, err := c.ReadEvent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := quorumwire.DecodeEvent(b)
		if err != nil || ev.ID != quorumwire.EvV1QuorumNotification || ev.Quorate != (v == 1) {
			t.Fatalf("after expected_votes=%d: %+v %v", v, ev, err)
		}
	}
	// ReadEvent honours its context while nothing arrives.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.ReadEvent(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle ReadEvent: %v", err)
	}
	if _, err := call(ctx, c, quorumwire.ReqTrackStop, 0); err != nil {
		t.Fatal(err)
	}
	daemonHealthy(t, n)
}

// 100,000 sequential getquorate on small rings (they wrap hundreds of times)
// and 8 goroutines x 10,000 concurrent calls on default rings, while the
// daemon keeps answering its own tool.
func TestRealLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := ctxFor(t, 5*time.Minute)

	small := dialNode(t, n, transport.WithSmallRings(transport.Config{})) // 16 KiB rings
	var toolTimes []time.Duration
	probe := func() { toolTimes = append(toolTimes, daemonHealthy(t, n)) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100_000; i++ {
			id := quorumwire.ReqGetQuorate
			if i%2 == 1 {
				id = quorumwire.ReqGetType
			}
			if r, err := call(ctx, small, id, 0); err != nil || r.Value != 1 {
				t.Errorf("sequential call %d: %+v %v", i, r, err)
				return
			}
		}
	}()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		case <-time.After(500 * time.Millisecond):
			probe()
		}
	}

	big := dialNode(t, n, transport.Config{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10_000; i++ {
				id := []int32{quorumwire.ReqGetQuorate, quorumwire.ReqGetType}[(g+i)%2]
				if r, err := call(ctx, big, id, 0); err != nil || r.Value != 1 {
					t.Errorf("goroutine %d call %d: %+v %v", g, i, r, err)
					return
				}
			}
		}()
	}
	wgDone := make(chan struct{})
	go func() { wg.Wait(); close(wgDone) }()
	for stop := false; !stop; {
		select {
		case <-wgDone:
			stop = true
		case <-time.After(500 * time.Millisecond):
			probe()
		}
	}
	probe()
	var worst time.Duration
	for _, d := range toolTimes {
		worst = max(worst, d)
	}
	t.Logf("corosync-quorumtool -s answered %d times during the load, slowest %v", len(toolTimes), worst)
}

// Cancelling calls at random points never lets a later call read a stale
// response: requests alternate response ids, which call checks.
func TestRealCancelMidCall(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	c := dialNode(t, n, transport.Config{})
	ctx := ctxFor(t, time.Minute)
	timedOut := 0
	for i := 0; i < 2000; i++ {
		short, cancel := context.WithTimeout(ctx, time.Duration(i%50)*time.Microsecond)
		_, err := call(short, c, []int32{quorumwire.ReqGetQuorate, quorumwire.ReqGetType}[i%2], 0)
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, corosync.ErrTimeout) {
				t.Fatalf("call %d: %v", i, err)
			}
			timedOut++
		}
		if r, err := call(ctx, c, []int32{quorumwire.ReqGetType, quorumwire.ReqGetQuorate}[i%2], 0); err != nil || r.Value != 1 {
			t.Fatalf("call after cancel %d: %+v %v", i, r, err)
		}
	}
	if timedOut == 0 {
		t.Fatal("no call was cancelled mid-flight; the test proves nothing")
	}
	t.Logf("%d of 2000 calls cancelled", timedOut)
	daemonHealthy(t, n)
}

func TestRealCloseDuringCalls(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	for round := 0; round < 20; round++ {
		c, err := transport.Dial(ctxFor(t, 10*time.Second), "quorum", transport.Config{NetNS: n.NetNSPath()})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, err := call(context.Background(), c, quorumwire.ReqGetQuorate, 0)
					if err != nil {
						if !errors.Is(err, transport.ErrClosed) && !errors.Is(err, corosync.ErrBadHandle) {
							t.Errorf("call during Close: %v", err)
						}
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ReadEvent(context.Background())
			if !errors.Is(err, transport.ErrClosed) {
				t.Errorf("ReadEvent during Close: %v", err)
			}
		}()
		time.Sleep(time.Duration(round) * time.Millisecond)
		c.Close()
		c.Close()
		wg.Wait()
	}
	daemonHealthy(t, n)
}

func countFDs() int {
	e, _ := os.ReadDir("/proc/self/fd")
	return len(e)
}

func countShmMappings() int {
	b, _ := os.ReadFile("/proc/self/maps")
	return strings.Count(string(b), "/dev/shm/qb-")
}

func waitNoShm(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(corotest.ShmFiles(pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := corotest.ShmFiles(pid); len(left) > 0 {
		t.Fatalf("/dev/shm still holds %v", left)
	}
}

func TestRealDialCloseNoLeaks(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := ctxFor(t, 2*time.Minute)
	// Warm up once so lazily created runtime state is not counted.
	c, err := transport.Dial(ctx, "quorum", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	runtime.GC()
	fds, maps, gs := countFDs(), countShmMappings(), runtime.NumGoroutine()
	for i := 0; i < 1000; i++ {
		c, err := transport.Dial(ctx, "quorum", transport.Config{NetNS: n.NetNSPath()})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if i%2 == 0 {
			if _, err := call(ctx, c, quorumwire.ReqGetQuorate, 0); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	if got := countFDs(); got != fds {
		t.Errorf("fds: %d before, %d after 1000 cycles", fds, got)
	}
	if got := countShmMappings(); got != maps {
		t.Errorf("shm mappings: %d before, %d after", maps, got)
	}
	time.Sleep(50 * time.Millisecond)
	if got := runtime.NumGoroutine(); got > gs {
		t.Errorf("goroutines: %d before, %d after", gs, got)
	}
	waitNoShm(t, n.Pid())
	daemonHealthy(t, n)
}

func TestRealDaemonGone(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := ctxFor(t, time.Minute)
	for _, kill := range []bool{true, false} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			if !n.Running() {
				if err := n.Start(); err != nil {
					t.Fatal(err)
				}
				if err := n.WaitReady(ctx); err != nil {
					t.Fatal(err)
				}
			}
			pid := n.Pid()
			c, err := transport.Dial(ctx, "quorum", transport.Config{NetNS: n.NetNSPath()})
			if err != nil {
				t.Fatal(err)
			}
			evErr := make(chan error, 1)
			go func() { _, err := c.ReadEvent(ctx); evErr <- err }()
			if kill {
				n.Kill()
			} else {
				n.Stop()
			}
			if err := <-evErr; !errors.Is(err, transport.ErrDisconnected) || !errors.Is(err, corosync.ErrLibrary) {
				t.Fatalf("ReadEvent after the daemon went: %v", err)
			}
			if _, err := call(ctx, c, quorumwire.ReqGetQuorate, 0); !errors.Is(err, transport.ErrDisconnected) {
				t.Fatalf("Request after the daemon went: %v", err)
			}
			c.Close()
			// The daemon is gone, so our Close removed what it left.
			waitNoShm(t, pid)
		})
	}
	_, err := transport.Dial(ctx, "quorum", transport.Config{NetNS: n.NetNSPath()})
	if !errors.Is(err, corosync.ErrLibrary) || !strings.Contains(err.Error(), "corosync is not running") {
		t.Fatalf("dial with no daemon: %v", err)
	}
}

// A process that is not root can bind corosync's abstract name; the client
// must refuse it unless told otherwise.
func TestRefusesNonRootServer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start the impostor as another user")
	}
	for _, allow := range []bool{false, true} {
		name := fmt.Sprintf("cgimpostor-%d-%v", os.Getpid(), allow)
		// The impostor runs as nobody, who cannot read Go's build directory.
		dir, err := os.MkdirTemp("", "cgimpostor")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o755)
		bin := dir + "/impostor"
		self, _ := os.ReadFile(os.Args[0])
		if err := os.WriteFile(bin, self, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), "CGTEST_IMPOSTOR="+name)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 10)
		out.Read(b)
		_, err = transport.Dial(ctxFor(t, 5*time.Second), name, transport.Config{AllowNonRootServer: allow})
		cmd.Process.Kill()
		cmd.Wait()
		if !allow {
			if !errors.Is(err, corosync.ErrSecurity) || !strings.Contains(err.Error(), "uid 65534, not root") {
				t.Fatalf("non-root server accepted or wrong error: %v", err)
			}
		} else if err == nil || errors.Is(err, corosync.ErrSecurity) {
			// Allowed past the credential check, it then fails on the
			// impostor's empty response (connection_type 0).
			t.Fatalf("with AllowNonRootServer: %v", err)
		}
	}
}

// An idle connection costs no CPU: the event reader sleeps in the netpoller.
func TestRealIdleUsesNoCPU(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	c := dialNode(t, cl.Node(1), transport.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.ReadEvent(ctx) }()
	time.Sleep(100 * time.Millisecond)
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	time.Sleep(2 * time.Second)
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	cancel()
	<-done
	used := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	t.Logf("CPU used by the whole test process in 2s idle: %v", used)
	if used > 100*time.Millisecond {
		t.Fatalf("idle client used %v of CPU in 2s", used)
	}
}

// Pipelined requests against the real daemon: batches of up to MaxBatch
// getquorate requests, interleaved with single requests, some abandoned
// mid-way by a short ctx, on normal and on small rings. Every answer pairs
// with its request, and the daemon stays healthy (its tool answers, its log
// never saw a byte without a request).
func TestRealBatch(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := ctxFor(t, 60*time.Second)
	for _, small := range []bool{false, true} {
		cfg := transport.Config{}
		if small {
			cfg = transport.WithSmallRings(cfg)
		}
		c := dialNode(t, n, cfg)
		abandoned, midway := 0, 0
		for round := 0; round < 400; round++ {
			size := 1 + round%transport.MaxBatch
			reqs, resps := make([][]byte, size), make([][]byte, size)
			for i := range reqs {
				id := quorumwire.ReqGetQuorate
				if i%3 == 1 {
					id = quorumwire.ReqGetType // every release has both
				}
				reqs[i] = quorumwire.AppendRequest(nil, id, 0)
				resps[i] = make([]byte, 0, 64)
			}
			bctx, cancel := ctx, context.CancelFunc(func() {})
			if round%2 == 1 {
				bctx, cancel = context.WithTimeout(ctx, time.Duration(round%40)*time.Microsecond)
			}
			got, err := c.RequestBatch(bctx, reqs, resps)
			cancel()
			if err != nil {
				if bctx.Err() == nil || !errors.Is(err, corosync.ErrTimeout) {
					t.Fatalf("round %d: %d of %d, %v", round, got, size, err)
				}
				abandoned++
				if got > 0 {
					midway++
				}
			}
			for i := 0; i < got; i++ {
				id := quorumwire.ReqGetQuorate
				if i%3 == 1 {
					id = quorumwire.ReqGetType
				}
				if r, err := quorumwire.DecodeResponse(resps[i], id); err != nil || r.Error != corosync.OK || (id == quorumwire.ReqGetQuorate && r.Value != 1) {
					t.Fatalf("round %d, answer %d: %+v %v", round, i, r, err)
				}
			}
			if r, err := call(ctx, c, quorumwire.ReqGetQuorate, 0); err != nil || r.Value != 1 {
				t.Fatalf("round %d: single request after the batch: %+v %v", round, r, err)
			}
		}
		t.Logf("small rings %v: %d of 400 batches abandoned by their ctx, %d of them after some answers", small, abandoned, midway)
	}
	daemonHealthy(t, n)
}
