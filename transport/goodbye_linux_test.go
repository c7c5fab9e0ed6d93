package transport_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/transport"
)

// dyingServer runs (in a child process) a libqb server on abstract name
// that takes one connection request, creates the connection's directory
// and ring files in /dev/shm as libqb does, and then, by mode:
//
//	before-response  exits without answering (a daemon killed mid-setup)
//	partial          sends 100 bytes of the answer and exits
//	slow-exit        waits 300ms, then exits without answering
//	slow-answer      waits 300ms, answers in full, then reports on stdout
//	                 whether the whole answer went out and the client then
//	                 closed, removes its files and exits (a daemon whose
//	                 client abandoned the connect)
func dyingServer(spec string) {
	name, mode, _ := strings.Cut(spec, ":")
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
	unix.Listen(fd, 1)
	os.Stdout.WriteString("listening\n")
	cfd, _, err := unix.Accept(fd)
	if err != nil {
		os.Exit(5)
	}
	unix.SetsockoptInt(cfd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	cred, err := unix.GetsockoptUcred(cfd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		os.Exit(6)
	}
	var req [24]byte
	unix.Read(cfd, req[:])
	dir := fmt.Sprintf("/dev/shm/qb-%d-%d-%d-dying%s", os.Getpid(), cred.Pid, cfd, mode[:2])
	if err := os.Mkdir(dir, 0o770); err != nil {
		os.Exit(7)
	}
	var bases [3]string
	for i, r := range []string{"request", "response", "event"} {
		base := filepath.Join(dir, "qb-"+r+"-"+name)
		hdr := make([]byte, 8252)
		le := binary.LittleEndian
		le.PutUint32(hdr[8:], 4096) // word_size
		copy(hdr[12:], base+"-header")
		copy(hdr[4108:], base+"-data")
		le.PutUint32(hdr[8204:], 1)      // ref_count
		le.PutUint32(hdr[8208+8:], 0x80) // process-shared semaphore
		os.WriteFile(base+"-header", hdr, 0o600)
		os.WriteFile(base+"-data", make([]byte, 4*4096), 0o600)
		bases[i] = base
	}
	resp := make([]byte, 12328)
	le := binary.LittleEndian
	le.PutUint32(resp[0:], 0xFFFFFFFF)
	le.PutUint32(resp[8:], 12328)
	le.PutUint32(resp[24:], 1) // shared memory
	le.PutUint32(resp[28:], 12328)
	for i, b := range bases {
		copy(resp[40+i*4096:], b)
	}
	switch mode {
	case "before-response":
		os.Exit(0)
	case "partial":
		unix.Write(cfd, resp[:100])
		os.Exit(0)
	case "slow-exit":
		time.Sleep(300 * time.Millisecond)
		os.Exit(0)
	case "slow-answer":
		time.Sleep(300 * time.Millisecond)
		sent := 0
		for sent < len(resp) {
			n, err := unix.SendmsgN(cfd, resp[sent:], nil, nil, unix.MSG_NOSIGNAL)
			if err != nil {
				fmt.Printf("send: %v after %d bytes\n", err, sent)
				break
			}
			sent += n
		}
		var b [1]byte
		n, _ := unix.Read(cfd, b[:])
		fmt.Printf("sent %d, then read %d\n", sent, n)
		os.RemoveAll(dir)
		os.Exit(0)
	}
	os.Exit(8)
}

// startDying starts dyingServer in a child process and returns its
// service name, the child and a reader of its stdout.
func startDying(t *testing.T, mode string) (string, *exec.Cmd, *bufio.Reader) {
	t.Helper()
	name := fmt.Sprintf("cgdying-%d-%s", os.Getpid(), mode)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CGTEST_DYING="+name+":"+mode)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	if l, err := r.ReadString('\n'); err != nil || l != "listening\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("dying server: %q %v", l, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		m, _ := filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-*", cmd.Process.Pid))
		for _, p := range m {
			os.RemoveAll(p)
		}
	})
	return name, cmd, r
}

func ourShm(serverPid int) []string {
	m, _ := filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-%d-*", serverPid, os.Getpid()))
	return m
}

// A server that dies while it sets a connection up leaves its directory and
// files in /dev/shm; the client removes them once it finds the server gone,
// also when the connect failed before any answer named them, and also when
// the caller had abandoned the connect.
func TestShmRemovedWhenServerDiesMidSetup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create /dev/shm directories for another pid")
	}
	for _, tc := range []struct {
		mode    string
		timeout time.Duration
		code    corosync.Error
	}{
		{"before-response", 5 * time.Second, corosync.ErrLibrary},
		{"partial", 5 * time.Second, corosync.ErrLibrary},
		{"slow-exit", 50 * time.Millisecond, corosync.ErrTimeout},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			name, cmd, _ := startDying(t, tc.mode)
			start := time.Now()
			_, err := transport.Dial(ctxFor(t, tc.timeout), name, transport.Config{AllowNonRootServer: true})
			if corosync.Code(err) != tc.code {
				t.Fatalf("dial: %v, want %s", err, tc.code.Name())
			}
			if tc.code == corosync.ErrTimeout && time.Since(start) > time.Second {
				t.Errorf("abandoned dial returned after %v", time.Since(start))
			}
			transport.WaitUnwound()
			if left := ourShm(cmd.Process.Pid); len(left) > 0 {
				t.Fatalf("/dev/shm still holds %v after the server died", left)
			}
		})
	}
}

// A connect its caller abandons while the server creates the connection is
// completed in the background: the server's answer goes out whole, and
// only then does the client close (libqb's server logs "Error in connection
// setup ... Broken pipe" when its answer cannot be sent).
func TestAbandonedDialCompletesInBackground(t *testing.T) {
	name, _, out := startDying(t, "slow-answer")
	start := time.Now()
	_, err := transport.Dial(ctxFor(t, 50*time.Millisecond), name, transport.Config{AllowNonRootServer: true})
	if !errors.Is(err, corosync.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("abandoned dial returned after %v", d)
	}
	l, _ := out.ReadString('\n')
	if l != "sent 12328, then read 0\n" {
		t.Fatalf("server: %q; want its whole answer sent, then the client's close", l)
	}
	transport.WaitUnwound()
}

// Calls in flight on a connection the daemon dropped fail as lost
// (corosync.ErrLibrary), also when the connection's owner closes it before
// they return, and also the calls still waiting for their turn to send;
// calls made after Close fail with ErrClosed. The daemon is stopped
// (SIGSTOP) while the calls are made, so that every one of them is in
// flight when it is killed.
func TestInFlightCallsOfLostConnAreLost(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := ctxFor(t, time.Minute)
	for round := 0; round < 3; round++ {
		if !n.Running() {
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
			if err := n.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
		}
		pid := n.Pid()
		var conns []*transport.IPCConn
		for i := 0; i < 3; i++ {
			c, err := transport.Dial(ctx, "cmap", transport.Config{NetNS: n.NetNSPath()})
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		var readers, calls sync.WaitGroup
		errs := make(chan error, 100)
		for _, c := range conns {
			readers.Add(1)
			go func() { // the owner's event reader: it closes the conn once lost
				defer readers.Done()
				_, err := c.ReadEvent(ctx)
				errs <- err
				c.Close()
			}()
		}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			for j := 0; j < 4; j++ { // one sends, three wait for their turn
				calls.Add(1)
				go func() {
					defer calls.Done()
					_, err := c.Request(ctx, cmapGet("runtime.config.totem.token"), nil)
					errs <- err
				}()
			}
		}
		time.Sleep(100 * time.Millisecond) // every call is waiting on the stopped daemon
		n.Kill()
		readers.Wait()
		calls.Wait()
		close(errs)
		got := 0
		for err := range errs {
			got++
			if !errors.Is(err, corosync.ErrLibrary) || !errors.Is(err, transport.ErrDisconnected) {
				t.Errorf("round %d: call in flight when the daemon died: %v (%s), want CS_ERR_LIBRARY", round, err, corosync.Code(err).Name())
			}
		}
		if got != len(conns)*5 {
			t.Errorf("round %d: %d outcomes, want %d", round, got, len(conns)*5)
		}
		for _, c := range conns {
			if _, err := c.Request(ctx, cmapGet("x"), nil); !errors.Is(err, corosync.ErrBadHandle) || !errors.Is(err, transport.ErrClosed) {
				t.Errorf("call after Close: %v", err)
			}
		}
		waitNoShm(t, pid)
	}
}

// cmapGet is a cmap GET request (id 2) for key.
func cmapGet(key string) []byte {
	b := make([]byte, 16+8+256)
	binary.LittleEndian.PutUint32(b[0:], 2)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)))
	binary.LittleEndian.PutUint16(b[16:], uint16(len(key)))
	copy(b[24:], key)
	return b
}

// Dials, calls and closes on several goroutines while the daemon is killed
// (connections are caught at every stage of their setup): afterwards
// nothing of ours is left in /dev/shm, and nothing but the not-connected
// class (and TIMEOUT, for the short deadlines) was returned.
func TestRealKillDuringDials(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := ctxFor(t, 2*time.Minute)
	for round := 0; round < 3; round++ {
		if !n.Running() {
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
			if err := n.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
		}
		pid := n.Pid()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var mu sync.Mutex
		codes := map[corosync.Error]int{}
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					d := 10 * time.Second
					if i%3 == 0 {
						d = time.Duration(i%7) * 300 * time.Microsecond
					}
					dctx, cancel := context.WithTimeout(ctx, d)
					c, err := transport.Dial(dctx, "cmap", transport.Config{NetNS: n.NetNSPath()})
					if err == nil {
						_, err = c.Request(dctx, cmapGet("runtime.config.totem.token"), nil)
						c.Close()
					}
					cancel()
					if err != nil {
						mu.Lock()
						codes[corosync.Code(err)]++
						mu.Unlock()
						if !errors.Is(err, corosync.ErrLibrary) && !errors.Is(err, corosync.ErrTimeout) {
							t.Errorf("round %d: %v", round, err)
						}
					}
				}
			}()
		}
		time.Sleep(200 * time.Millisecond)
		n.Kill()
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()
		transport.WaitUnwound()
		t.Logf("round %d: errors by code %v", round, codes)
		if left := corotest.ShmFiles(pid); len(left) > 0 {
			t.Errorf("round %d: /dev/shm still holds %v after the daemon was killed", round, left)
		}
	}
}
