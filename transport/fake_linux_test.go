package transport

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// fakeServer is a misbehaving libqb server: it listens on an abstract
// socket of its own and answers the connection request as the test says.
type fakeServer struct {
	t       *testing.T
	service string
	lfd     int
	dir     string // its /dev/shm directory
	done    chan struct{}
	conns   []int
}

func newFake(t *testing.T, answer func(f *fakeServer, fd int)) *fakeServer {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	tag := hex.EncodeToString(b)
	f := &fakeServer{t: t, service: "cgfake-" + tag, dir: "/dev/shm/qb-cgfake-" + tag, done: make(chan struct{})}
	if err := os.Mkdir(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa, n, _ := sockaddr(f.service, "abstract", Config{})
	if _, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(sa)), n); e != 0 {
		t.Fatal(e)
	}
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
	f.lfd = fd
	go func() {
		defer close(f.done)
		cfd, _, err := unix.Accept(fd)
		if err != nil {
			return
		}
		f.conns = append(f.conns, cfd)
		var req [authRequestSize]byte
		if _, err := unix.Read(cfd, req[:]); err != nil {
			return
		}
		answer(f, cfd)
	}()
	t.Cleanup(func() {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
		<-f.done
		for _, c := range f.conns {
			unix.Close(c)
		}
		os.RemoveAll(f.dir)
	})
	return f
}

func (f *fakeServer) dial(timeout time.Duration) (*IPCConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Dial(ctx, f.service, Config{AllowNonRootServer: true})
}

type authResp struct {
	errno    int32
	connType int32
	maxMsg   uint32
	paths    [3]string
}

func (a authResp) bytes() []byte {
	b := make([]byte, authResponseSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0xFFFFFFFF)
	le.PutUint32(b[8:], authResponseSize)
	le.PutUint32(b[16:], uint32(a.errno))
	le.PutUint32(b[24:], uint32(a.connType))
	le.PutUint32(b[28:], a.maxMsg)
	for i, p := range a.paths {
		copy(b[respPathOff+i*pathMax:], p)
	}
	return b
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return
		}
		b = b[n:]
	}
}

// makeRing creates a ring's two files as a libqb server does.
func (f *fakeServer) makeRing(name string, words uint32) string {
	base := filepath.Join(f.dir, "qb-"+name+"-"+f.service)
	hdr := make([]byte, hdrSize+4)
	le := binary.LittleEndian
	le.PutUint32(hdr[hdrWordSize:], words)
	copy(hdr[hdrHdrPath:], base+"-header")
	copy(hdr[hdrDataPath:], base+"-data")
	le.PutUint32(hdr[hdrRefCount:], 1)
	le.PutUint32(hdr[hdrSem+8:], 0x80) // process-shared
	if err := os.WriteFile(base+"-header", hdr, 0o600); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(base+"-data", make([]byte, 4*words), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return base
}

func (f *fakeServer) rings(words uint32) [3]string {
	return [3]string{f.makeRing("request", words), f.makeRing("response", words), f.makeRing("event", words)}
}

// serverRing maps a ring as the server side, without counting as a client.
func serverRing(t *testing.T, name, base string) *ring {
	r, err := openRing(name, base)
	if err != nil {
		t.Fatal(err)
	}
	atomic.AddUint32(r.u32(hdrRefCount), ^uint32(0))
	t.Cleanup(r.unmap)
	return r
}

func expectDialErr(t *testing.T, answer func(f *fakeServer, fd int), code corosync.Error, substr string) {
	t.Helper()
	f := newFake(t, answer)
	c, err := f.dial(2 * time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("dial succeeded; want %v containing %q", code, substr)
	}
	if !errors.Is(err, code) || !strings.Contains(err.Error(), substr) {
		t.Fatalf("dial error %q; want %v containing %q", err, code, substr)
	}
}

func TestFakeServerHandshakeErrors(t *testing.T) {
	t.Run("short reply", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			writeAll(fd, authResp{}.bytes()[:100])
			unix.Shutdown(fd, unix.SHUT_RDWR)
		}, corosync.ErrLibrary, "after 100 of 12328 bytes")
	})
	t.Run("silence", func(t *testing.T) {
		f := newFake(t, func(f *fakeServer, fd int) {})
		_, err := f.dial(100 * time.Millisecond)
		if !errors.Is(err, corosync.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial against a silent server: %v", err)
		}
	})
	t.Run("access denied", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			writeAll(fd, authResp{errno: -int32(unix.EACCES)}.bytes())
		}, corosync.ErrAccess, "uidgid")
	})
	t.Run("not ready", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			writeAll(fd, authResp{errno: -int32(unix.EAGAIN)}.bytes())
		}, corosync.ErrTryAgain, "not ready")
	})
	t.Run("wrong connection type", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			writeAll(fd, authResp{connType: 0, maxMsg: 1 << 20}.bytes())
		}, corosync.ErrNotSupported, "connection_type")
	})
	t.Run("path outside /dev/shm", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			writeAll(fd, authResp{connType: 1, maxMsg: 1 << 20, paths: [3]string{"/etc/passwd", "/etc/passwd", "/etc/passwd"}}.bytes())
		}, corosync.ErrLibrary, "not a file below /dev/shm")
	})
	t.Run("dot-dot path", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			p := "/dev/shm/../etc/x"
			writeAll(fd, authResp{connType: 1, maxMsg: 1 << 20, paths: [3]string{p, p, p}}.bytes())
		}, corosync.ErrLibrary, "not a file below /dev/shm")
	})
	t.Run("symlink", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			base := filepath.Join(f.dir, "link")
			os.Symlink("/etc/hostname", base+"-header")
			writeAll(fd, authResp{connType: 1, maxMsg: 1 << 20, paths: [3]string{base, base, base}}.bytes())
		}, corosync.ErrLibrary, "too many levels of symbolic links")
	})
	t.Run("unterminated path", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			p := strings.Repeat("a", pathMax)
			writeAll(fd, authResp{connType: 1, maxMsg: 1 << 20, paths: [3]string{p, p, p}}.bytes())
		}, corosync.ErrMessageError, "not NUL-terminated")
	})
	t.Run("word_size mismatch", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			paths := f.rings(4096)
			h := paths[1] + "-header"
			b, _ := os.ReadFile(h)
			binary.LittleEndian.PutUint32(b[hdrWordSize:], 8192)
			os.WriteFile(h, b, 0o600)
			writeAll(fd, authResp{connType: 1, maxMsg: 12328, paths: paths}.bytes())
		}, corosync.ErrLibrary, "word_size*4")
	})
	t.Run("short header", func(t *testing.T) {
		expectDialErr(t, func(f *fakeServer, fd int) {
			paths := f.rings(4096)
			os.Truncate(paths[0]+"-header", 100)
			writeAll(fd, authResp{connType: 1, maxMsg: 12328, paths: paths}.bytes())
		}, corosync.ErrLibrary, "has 100 bytes")
	})
}

// connectFake returns a connected client and the server's view of its rings.
func connectFake(t *testing.T) (*IPCConn, [3]string) {
	t.Helper()
	var paths [3]string
	ready := make(chan struct{})
	f := newFake(t, func(f *fakeServer, fd int) {
		paths = f.rings(4096)
		close(ready)
		writeAll(fd, authResp{connType: 1, maxMsg: 12328, paths: paths}.bytes())
	})
	c, err := f.dial(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	<-ready
	t.Cleanup(func() { c.Close() })
	return c, paths
}

func TestFakeServerBadChunks(t *testing.T) {
	ctx := context.Background()
	t.Run("oversize chunk", func(t *testing.T) {
		c, paths := connectFake(t)
		resp := serverRing(t, "response", paths[1])
		resp.write(make([]byte, 32))
		atomic.StoreUint32(resp.word(0), 1<<30) // size of the chunk at word 0
		_, err := c.Request(ctx, make([]byte, 16), nil)
		if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "claims 1073741824 bytes") {
			t.Fatalf("oversize chunk: %v", err)
		}
		if _, err := c.Request(ctx, make([]byte, 16), nil); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("request after a protocol error: %v", err)
		}
	})
	t.Run("bad magic", func(t *testing.T) {
		c, paths := connectFake(t)
		ev := serverRing(t, "event", paths[2])
		ev.write(make([]byte, 32))
		atomic.StoreUint32(ev.word(1), 0xDEADBEEF)
		_, err := c.ReadEvent(ctx)
		if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "magic 0xdeadbeef") {
			t.Fatalf("bad magic: %v", err)
		}
	})
	t.Run("read_pt out of range", func(t *testing.T) {
		c, paths := connectFake(t)
		resp := serverRing(t, "response", paths[1])
		resp.write(make([]byte, 32))
		atomic.StoreUint32(resp.u32(hdrReadPt), 1<<31)
		if _, err := c.Request(ctx, make([]byte, 16), nil); err == nil || !strings.Contains(err.Error(), "read_pt") {
			t.Fatalf("bad read_pt: %v", err)
		}
	})
	t.Run("data file truncated", func(t *testing.T) {
		c, paths := connectFake(t)
		resp := serverRing(t, "response", paths[1])
		resp.sem.post()
		if err := os.Truncate(paths[1]+"-data", 0); err != nil {
			t.Fatal(err)
		}
		_, err := c.Request(ctx, make([]byte, 16), nil)
		if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "memory fault") {
			t.Fatalf("truncated data file: %v", err)
		}
	})
	t.Run("header truncated", func(t *testing.T) {
		c, paths := connectFake(t)
		if err := os.Truncate(paths[2]+"-header", 0); err != nil {
			t.Fatal(err)
		}
		_, err := c.ReadEvent(ctx)
		if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "memory fault") {
			t.Fatalf("truncated header: %v", err)
		}
	})
	t.Run("server closes", func(t *testing.T) {
		c, paths := connectFake(t)
		req := serverRing(t, "request", paths[0])
		atomic.StoreUint32(req.u32(hdrRefCount), 0) // what a closing server does
		if _, err := c.Request(ctx, make([]byte, 16), nil); !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "ref_count 0") {
			t.Fatalf("ref_count 0: %v", err)
		}
	})
	t.Run("flow control", func(t *testing.T) {
		c, paths := connectFake(t)
		req := serverRing(t, "request", paths[0])
		atomic.StoreUint32(req.u32(hdrUserData), 1)
		if _, err := c.Request(ctx, make([]byte, 16), nil); !errors.Is(err, corosync.ErrTryAgain) {
			t.Fatalf("fc=1: %v", err)
		}
		if atomic.LoadUint32(req.u32(hdrWritePt)) != 0 {
			t.Fatal("a request was written despite flow control")
		}
	})
}

// With libqb's flag file present the client tries the filesystem socket
// first and falls back to the abstract one (the daemon chose at its start).
func TestFilesystemSocketFallback(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "force-filesystem-sockets")
	os.WriteFile(flag, nil, 0o644)
	f := newFake(t, func(f *fakeServer, fd int) {
		writeAll(fd, authResp{errno: -int32(unix.EAGAIN)}.bytes())
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Dial(ctx, f.service, Config{AllowNonRootServer: true, ForceSocketsFile: flag, SocketDir: dir})
	if !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("fallback to the abstract socket: %v", err)
	}
	// A filesystem socket is used when it exists.
	path := filepath.Join(dir, "cgfs")
	lfd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	unix.Listen(lfd, 1)
	go func() {
		cfd, _, err := unix.Accept(lfd)
		if err != nil {
			return
		}
		defer unix.Close(cfd)
		var req [authRequestSize]byte
		unix.Read(cfd, req[:])
		writeAll(cfd, authResp{errno: -int32(unix.EACCES)}.bytes())
	}()
	_, err = Dial(ctx, "cgfs", Config{AllowNonRootServer: true, ForceSocketsFile: flag, SocketDir: dir})
	if !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("filesystem socket: %v", err)
	}
}
