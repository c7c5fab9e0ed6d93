package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
)

// Config configures the libqb IPC client. The zero value is what libquorum
// does, plus the safety checks libquorum lacks.
type Config struct {
	// MaxMessageSize is the buffer size requested from the daemon for each
	// ring. Zero means 1 MiB, what every corosync client library requests.
	MaxMessageSize uint32

	// AllowNonRootServer accepts a daemon that does not run as root. By
	// default the client refuses it: any local user can bind an abstract
	// socket name and impersonate corosync.
	AllowNonRootServer bool

	// NetNS is the path of a network namespace (for example
	// /var/run/netns/NAME or /proc/PID/ns/net) whose corosync to talk to.
	// Abstract sockets belong to a network namespace; empty means ours.
	NetNS string

	// SocketDir is where filesystem sockets live when
	// /etc/libqb/force-filesystem-sockets exists (Debian's libqb: /tmp).
	SocketDir string

	// ForceSocketsFile is the flag file that makes libqb use filesystem
	// sockets. Empty means /etc/libqb/force-filesystem-sockets.
	ForceSocketsFile string

	// SpinWait is how long a request polls for its response before it
	// sleeps; zero means the default (50µs on machines with more than one
	// CPU, none on a single CPU), negative disables polling. Polling yields
	// to the OS scheduler between checks, so it never delays the daemon.
	SpinWait time.Duration

	// Logger receives debug messages about unusual protocol events. Nil
	// (the default) is silent.
	Logger *slog.Logger
}

const (
	defaultMaxMsg     = 1 << 20
	authRequestSize   = 24
	authResponseSize  = 12328
	sunPathMax        = 108
	connTypeSHM       = 1
	respPathOff       = 40
	waitSlice         = 500 * time.Millisecond
	byteSendTimeout   = 5 * time.Second
	abandonTimeout    = 30 * time.Second
	flowControlStop   = 1 // libqb's fc_enable_max: fc=1 refuses, fc=2 queues
	defaultForceFile  = "/etc/libqb/force-filesystem-sockets"
	defaultSocketDir  = "/tmp"
	qbMsgAuthenticate = -1
	defaultSpin       = 50 * time.Microsecond
)

type dialer struct{ cfg Config }

// NewDialer returns the pure-Go libqb IPC (shared-memory) dialer.
func NewDialer(cfg Config) Dialer { return dialer{cfg} }

// Dial implements Dialer.
func (d dialer) Dial(ctx context.Context, service string) (Conn, error) {
	return Dial(ctx, service, d.cfg)
}

// Dial connects to corosync's IPC service (e.g. "quorum") over libqb's
// shared-memory transport. ctx bounds the whole handshake.
func Dial(ctx context.Context, service string, cfg Config) (*IPCConn, error) {
	op := "dial " + service
	if service == "" || len(service) > 235 || strings.ContainsAny(service, "/\x00") {
		return nil, corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("invalid service name %q", service))
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = defaultMaxMsg
	}
	cfg.MaxMessageSize = max(cfg.MaxMessageSize, authResponseSize)
	if cfg.SocketDir == "" {
		cfg.SocketDir = defaultSocketDir
	}
	if cfg.ForceSocketsFile == "" {
		cfg.ForceSocketsFile = defaultForceFile
	}
	addrs := []string{"abstract", "file"}
	if _, err := os.Stat(cfg.ForceSocketsFile); err == nil {
		addrs = []string{"file", "abstract"}
	}
	var lastErr error
	for _, kind := range addrs {
		c, err := dialOnce(ctx, service, kind, cfg)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			break
		}
	}
	return nil, lastErr
}

// rawSockaddrUnix is struct sockaddr_un: family and a 108-byte path.
type rawSockaddrUnix struct {
	family uint16
	path   [sunPathMax]byte
}

// sockaddr builds the address libqb listens on. For the abstract form, libqb
// binds "\0"+name padded with NULs to the whole sun_path (address length
// 110); the short form is a different name. golang.org/x/sys/unix refuses
// 108-byte names, so the address is built here and passed to connect(2).
func sockaddr(service, kind string, cfg Config) (*rawSockaddrUnix, uintptr, string) {
	sa := &rawSockaddrUnix{family: unix.AF_UNIX}
	if kind == "file" {
		p := filepath.Join(cfg.SocketDir, service)
		n := copy(sa.path[:sunPathMax-1], p)
		return sa, uintptr(2 + n), p // SUN_LEN: no NUL counted
	}
	copy(sa.path[1:], service)
	return sa, uintptr(unsafe.Sizeof(*sa)), "@" + service
}

func connect(fd int, sa *rawSockaddrUnix, n uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), n)
	if e != 0 {
		return e
	}
	return nil
}

// socketIn creates a unix stream socket, in network namespace netns if set.
// The namespace is entered on a throwaway thread (internal/netns), never on
// the caller's goroutine.
func socketIn(ns string) (int, error) {
	const flags = unix.SOCK_STREAM | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	fd := -1
	err := netns.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_UNIX, flags, 0)
		return err
	})
	return fd, err
}

func dialErr(op string, code corosync.Error, format string, args ...any) error {
	return corosync.NewError(op, code, fmt.Errorf(format, args...))
}

func dialOnce(ctx context.Context, service, kind string, cfg Config) (*IPCConn, error) {
	op := "dial " + service
	if err := ctx.Err(); err != nil {
		return nil, corosync.NewError(op, corosync.ErrTimeout, err)
	}
	fd, err := socketIn(cfg.NetNS)
	if err != nil {
		return nil, corosync.NewError(op, corosync.ErrLibrary, err)
	}
	sa, salen, shown := sockaddr(service, kind, cfg)
	if len(shown) >= sunPathMax {
		unix.Close(fd)
		return nil, dialErr(op, corosync.ErrNameTooLong, "socket path %q too long", shown)
	}
	if err := connect(fd, sa, salen); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
			return nil, dialErr(op, corosync.ErrLibrary, "corosync is not running (nothing listens on %s): %w", shown, err)
		case errors.Is(err, syscall.EAGAIN):
			return nil, dialErr(op, corosync.ErrTryAgain, "corosync's listen backlog on %s is full: %w", shown, err)
		}
		return nil, dialErr(op, corosync.FromErrno(errnoOf(err)), "connect %s: %w", shown, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		return nil, dialErr(op, corosync.ErrLibrary, "SO_PASSCRED: %w", err)
	}
	f := os.NewFile(uintptr(fd), "corosync-"+service)
	c := &IPCConn{service: service, cfg: cfg, f: f, fd: fd, spin: spinFor(cfg.SpinWait), lock: make(chan struct{}, 1), closing: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			c.teardown()
		}
	}()
	if c.rc, err = f.SyscallConn(); err != nil {
		return nil, corosync.NewError(op, corosync.ErrLibrary, err)
	}
	if dl, has := ctx.Deadline(); has {
		f.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var req [authRequestSize]byte
	binary.LittleEndian.PutUint32(req[0:], 0xFFFFFFFF) // QB_IPC_MSG_AUTHENTICATE (-1)
	binary.LittleEndian.PutUint32(req[8:], authRequestSize)
	binary.LittleEndian.PutUint32(req[16:], cfg.MaxMessageSize)
	if err := c.sendAll(req[:]); err != nil {
		return nil, c.handshakeErr(ctx, op, "send the connection request", err)
	}
	resp := make([]byte, authResponseSize)
	cred, err := c.recvAuth(resp)
	if err != nil {
		return nil, c.handshakeErr(ctx, op, "read the connection response", err)
	}
	f.SetDeadline(time.Time{})
	c.rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 0) })
	if cred == nil {
		c.rc.Control(func(fd uintptr) { cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	}
	if cred == nil {
		return nil, dialErr(op, corosync.ErrSecurity, "the daemon's credentials are unknown")
	}
	c.serverPid, c.serverUID = cred.Pid, cred.Uid
	if cred.Uid != 0 && !cfg.AllowNonRootServer {
		return nil, dialErr(op, corosync.ErrSecurity,
			"the process answering on %s (pid %d) runs as uid %d, not root; refusing it (set Config.AllowNonRootServer to accept)", shown, cred.Pid, cred.Uid)
	}
	if err := c.parseAuth(op, resp); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func spinFor(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > 0:
		return d
	case runtime.NumCPU() > 1:
		return defaultSpin
	}
	return 0
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func (c *IPCConn) handshakeErr(ctx context.Context, op, what string, err error) error {
	if ctx.Err() != nil {
		return corosync.NewError(op, corosync.ErrTimeout, fmt.Errorf("%s: %w", what, ctx.Err()))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The socket deadline is ctx's deadline; it can fire a moment
		// before ctx's own timer does.
		return corosync.NewError(op, corosync.ErrTimeout, fmt.Errorf("%s: %w", what, context.DeadlineExceeded))
	}
	return corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%s: %w", what, err))
}

func (c *IPCConn) sendAll(b []byte) error {
	for len(b) > 0 {
		var n int
		var serr error
		err := c.rc.Write(func(fd uintptr) bool {
			n, serr = unix.SendmsgN(int(fd), b, nil, nil, unix.MSG_NOSIGNAL)
			return serr != unix.EAGAIN
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// recvAuth reads exactly len(b) bytes and the SCM_CREDENTIALS of the sender.
func (c *IPCConn) recvAuth(b []byte) (*unix.Ucred, error) {
	var cred *unix.Ucred
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	got := 0
	for got < len(b) {
		var n, oobn int
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), b[got:], oob, unix.MSG_NOSIGNAL|unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: the daemon closed the connection after %d of %d bytes", syscall.ENOTCONN, got, len(b))
		}
		if cred == nil && oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for i := range msgs {
					if u, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
						cred = u
						break
					}
				}
			}
		}
		got += n
	}
	return cred, nil
}

func (c *IPCConn) parseAuth(op string, b []byte) error {
	le := binary.LittleEndian
	if id := int32(le.Uint32(b[0:])); id != qbMsgAuthenticate {
		return dialErr(op, corosync.ErrMessageError, "connection response: field id is %d, want -1", id)
	}
	if e := int32(le.Uint32(b[16:])); e < 0 {
		errno := syscall.Errno(-e)
		switch errno {
		case syscall.EACCES:
			return dialErr(op, corosync.ErrAccess,
				"corosync denied access to uid %d gid %d: allow it with a uidgid { uid: NAME } (or gid:) section in corosync.conf or /etc/corosync/uidgid.d/, or run as root: %w",
				os.Geteuid(), os.Getegid(), errno)
		case syscall.EAGAIN:
			return dialErr(op, corosync.ErrTryAgain, "corosync is not ready yet: %w", errno)
		}
		return dialErr(op, corosync.FromErrno(errno), "corosync refused the connection: %w", errno)
	} else if e != 0 {
		return dialErr(op, corosync.ErrMessageError, "connection response: field error is %d", e)
	}
	if t := int32(le.Uint32(b[24:])); t != connTypeSHM {
		return dialErr(op, corosync.ErrNotSupported, "connection response: field connection_type is %d; only shared memory (1) is supported", t)
	}
	c.maxMsg = int(le.Uint32(b[28:]))
	if c.maxMsg < 64 || c.maxMsg > maxRingBytes {
		return dialErr(op, corosync.ErrMessageError, "connection response: field max_msg_size %d out of range", c.maxMsg)
	}
	var err error
	for i, r := range []**ring{&c.req, &c.resp, &c.ev} {
		name := [...]string{"request", "response", "event"}[i]
		field := b[respPathOff+i*pathMax : respPathOff+(i+1)*pathMax]
		if field[pathMax-1] != 0 {
			return dialErr(op, corosync.ErrMessageError, "connection response: field %s path is not NUL-terminated", name)
		}
		if *r, err = openRing(name, cString(field)); err != nil {
			return corosync.NewError(op, corosync.ErrLibrary, err)
		}
	}
	if rc := c.req.refCount(); rc != 2 {
		return dialErr(op, corosync.ErrLibrary, "%w: request ring ref_count is %d after attach, want 2", ErrDisconnected, rc)
	}
	return nil
}

// IPCConn is a libqb shared-memory IPC connection. It implements Conn.
type IPCConn struct {
	service   string
	cfg       Config
	f         *os.File
	rc        syscall.RawConn
	fd        int // valid until Close has waited for every operation
	spin      time.Duration
	req       *ring
	resp      *ring
	ev        *ring
	maxMsg    int
	serverPid int32
	serverUID uint32

	lock    chan struct{} // request path: ring write + post + byte + response
	closing chan struct{}
	broken  atomic.Bool // closed or dead: waiters give up

	mu     sync.Mutex
	closed bool
	dead   error
	active sync.WaitGroup // operations that touch the mappings

	evMu  sync.Mutex
	evBuf []byte
	owed  int // socket bytes owed for events already read

}

// ServerPID returns the daemon's pid as its credentials reported it.
func (c *IPCConn) ServerPID() int { return int(c.serverPid) }

// MaxMessageSize returns the negotiated maximum message size.
func (c *IPCConn) MaxMessageSize() int { return c.maxMsg }

func (c *IPCConn) errClosed(op string) error {
	return corosync.NewError(op, corosync.ErrBadHandle, ErrClosed)
}

// unusableLocked returns why the connection cannot be used, or nil.
func (c *IPCConn) unusableLocked(op string) error {
	if c.closed {
		return c.errClosed(op)
	}
	return c.dead
}

func (c *IPCConn) enter(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.unusableLocked(op); err != nil {
		return err
	}
	c.active.Add(1)
	return nil
}

// markDead records that the connection is unusable and wakes every waiter.
// The socket is shut down so the daemon drops its side at once.
func (c *IPCConn) markDead(op, why string, cause error) error {
	c.mu.Lock()
	if c.dead == nil && !c.closed {
		if cause == nil {
			c.dead = corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%w: %s", ErrDisconnected, why))
		} else {
			c.dead = corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%w: %s: %w", ErrDisconnected, why, cause))
		}
	}
	err := c.dead
	if err == nil {
		err = c.errClosed(op)
	}
	c.mu.Unlock()
	c.broken.Store(true)
	c.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	c.resp.sem.wake()
	return err
}

// hungUp polls the socket without waiting: true once the daemon has gone.
// Called inside an operation, so the fd is valid.
func (c *IPCConn) hungUp() bool {
	p := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(p, 0); err == nil && n > 0 {
		return p[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
	}
	return false
}

// Request implements Conn. See spec/libqb-ipc.md §5: exactly one socket byte
// per request, sent right after the semaphore post, under one lock with the
// ring write; the response is read from the response ring.
func (c *IPCConn) Request(ctx context.Context, req, resp []byte) (out []byte, err error) {
	op := c.service + " request"
	if err := c.enter(op); err != nil {
		return resp[:0], err
	}
	defer c.recoverFault(op, debug.SetPanicOnFault(true), &err)
	handedOff := false
	defer func() {
		if !handedOff {
			c.active.Done()
		}
	}()
	if len(req) == 0 || len(req) > c.maxMsg {
		return resp[:0], dialErr(op, corosync.ErrTooBig, "request of %d bytes (max %d)", len(req), c.maxMsg)
	}
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return resp[:0], corosync.NewError(op, corosync.ErrTimeout, ctx.Err())
	case <-c.closing:
		return resp[:0], c.errClosed(op)
	}
	unlock := true
	defer func() {
		if unlock {
			<-c.lock
		}
	}()
	if c.broken.Load() {
		return resp[:0], c.stateErr(op)
	}
	// Liveness and flow control (libqb's fc_get): the daemon zeroes
	// ref_count when it closes the connection.
	if rc := c.req.refCount(); rc != 2 {
		return resp[:0], c.markDead(op, fmt.Sprintf("the daemon closed the connection (ref_count %d)", rc), nil)
	}
	if fc := c.req.flowControl(); fc > 0 && fc <= flowControlStop {
		return resp[:0], dialErr(op, corosync.ErrTryAgain, "the daemon applies flow control (%d): %w", fc, syscall.EAGAIN)
	}
	if err := c.req.write(req); err != nil {
		if errors.Is(err, errRingFull) {
			return resp[:0], dialErr(op, corosync.ErrTryAgain, "%w: %w", err, syscall.EAGAIN)
		}
		return resp[:0], c.markDead(op, "request ring", err)
	}
	// The notification byte. It must follow the post, whatever ctx says: a
	// post without its byte can block corosync's main loop.
	if err := c.sendByte(byte(len(req))); err != nil {
		return resp[:0], c.markDead(op, "send the request notification byte", err)
	}
	if ctx.Done() != nil {
		stopWake := context.AfterFunc(ctx, c.resp.sem.wake)
		defer stopWake()
	}
	for {
		if c.resp.sem.timedWait(waitSlice, c.spin, &c.broken, ctx.Done()) {
			out, err := c.resp.read(resp[:0], c.maxMsg)
			if err != nil {
				return resp[:0], c.markDead(op, "response ring", err)
			}
			return out, nil
		}
		if c.broken.Load() {
			return resp[:0], c.stateErr(op)
		}
		if ctx.Err() != nil {
			// Abandoned: a background waiter consumes the response so the
			// next call cannot read it as its own, then releases the lock.
			unlock, handedOff = false, true
			go c.drainAbandoned(op)
			return resp[:0], corosync.NewError(op, corosync.ErrTimeout, ctx.Err())
		}
		if c.hungUp() {
			return resp[:0], c.markDead(op, "the daemon closed the connection", nil)
		}
		if rc := c.req.refCount(); rc != 2 {
			return resp[:0], c.markDead(op, fmt.Sprintf("the daemon closed the connection (ref_count %d)", rc), nil)
		}
	}
}

func (c *IPCConn) drainAbandoned(op string) {
	defer c.active.Done()
	defer func() { <-c.lock }()
	var err error
	defer c.recoverFault(op, debug.SetPanicOnFault(true), &err)
	deadline := time.Now().Add(abandonTimeout)
	for time.Now().Before(deadline) {
		if c.resp.sem.timedWait(waitSlice, 0, &c.broken, nil) {
			var buf [64]byte
			if _, err := c.resp.read(buf[:0], c.maxMsg); err != nil {
				c.markDead(op, "response ring", err)
			}
			return
		}
		if c.broken.Load() {
			return
		}
		if c.hungUp() {
			c.markDead(op, "the daemon closed the connection", nil)
			return
		}
	}
	c.markDead(op, "no response to an abandoned request within "+abandonTimeout.String(), nil)
}

// recoverFault makes a memory fault in the shared mappings (a file
// truncated under us raises SIGBUS) an error that kills the connection
// instead of the program. Use as
//
//	defer c.recoverFault(op, debug.SetPanicOnFault(true), &err)
func (c *IPCConn) recoverFault(op string, old bool, err *error) {
	v := recover()
	debug.SetPanicOnFault(old)
	if v == nil {
		return
	}
	if ferr := faultError(v, "shared"); ferr != nil {
		*err = c.markDead(op, "shared memory", ferr)
		return
	}
	panic(v)
}

func (c *IPCConn) stateErr(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.unusableLocked(op); err != nil {
		return err
	}
	return corosync.NewError(op, corosync.ErrLibrary, ErrDisconnected)
}

// sendByte sends the request notification byte. It runs inside an
// operation (enter/active), so the fd cannot be closed under it.
func (c *IPCConn) sendByte(b byte) error {
	buf := [1]byte{b}
	deadline := time.Now().Add(byteSendTimeout)
	for {
		err := unix.Sendto(c.fd, buf[:], unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, nil)
		if err == nil {
			return nil
		}
		if err != unix.EAGAIN {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("socket stayed full for %v", byteSendTimeout)
		}
		// The socket buffer is full: the daemon is not reading. Wait for room.
		p := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLOUT}}
		unix.Poll(p, 10)
	}
}

var longAgo = time.Unix(1, 0)

// ReadEvent implements Conn. The socket waits in Go's netpoller; per event
// the event semaphore is decremented, the chunk read and reclaimed, and
// exactly one socket byte consumed (spec §6).
func (c *IPCConn) ReadEvent(ctx context.Context) (out []byte, err error) {
	op := c.service + " event"
	if err := c.enter(op); err != nil {
		return nil, err
	}
	defer c.active.Done()
	defer c.recoverFault(op, debug.SetPanicOnFault(true), &err)
	c.evMu.Lock()
	defer c.evMu.Unlock()
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(longAgo) })
	defer func() {
		if !stop() {
			c.f.SetReadDeadline(time.Time{})
		}
	}()
	for {
		for c.owed > 0 {
			got, err := c.recvByte(true)
			if err != nil {
				return nil, c.readErr(ctx, op, err)
			}
			if got {
				c.owed--
			}
		}
		if c.ev.sem.tryWait() {
			buf, err := c.ev.read(c.evBuf[:0], c.maxMsg)
			if err != nil {
				return nil, c.markDead(op, "event ring", err)
			}
			c.evBuf = buf
			c.owed++
			if got, err := c.recvByte(false); err == nil && got {
				c.owed--
			}
			return buf, nil
		}
		if err := c.waitReadable(); err != nil {
			return nil, c.readErr(ctx, op, err)
		}
		if c.ev.sem.value() == 0 {
			// A byte with no event behind it: not libqb's protocol. Consume
			// it rather than spin on a readable socket.
			if got, err := c.recvByte(false); err != nil {
				return nil, c.readErr(ctx, op, err)
			} else if got && c.cfg.Logger != nil {
				c.cfg.Logger.Debug("corosync: notification byte without an event", "service", c.service)
			}
		}
	}
}

func (c *IPCConn) readErr(ctx context.Context, op string, err error) error {
	switch {
	case ctx.Err() != nil:
		return corosync.NewError(op, corosync.ErrTimeout, ctx.Err())
	case errors.Is(err, os.ErrClosed) || c.isClosed():
		return c.errClosed(op)
	}
	return c.markDead(op, "the daemon closed the connection", err)
}

func (c *IPCConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

var errEOF = errors.New("end of stream")

// waitReadable blocks in the netpoller until a byte (or hang-up) is there.
func (c *IPCConn) waitReadable() error {
	var b [1]byte
	var perr error
	err := c.rc.Read(func(fd uintptr) bool {
		var n int
		n, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if perr == unix.EAGAIN {
			return false
		}
		if perr == nil && n == 0 {
			perr = errEOF
		}
		return true
	})
	if err != nil {
		return err
	}
	return perr
}

// recvByte consumes one socket byte; with wait it blocks until one arrives.
func (c *IPCConn) recvByte(wait bool) (bool, error) {
	var b [1]byte
	got := false
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		var n int
		n, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_DONTWAIT)
		if rerr == unix.EAGAIN {
			rerr = nil
			return !wait
		}
		if rerr == nil && n == 0 {
			rerr = errEOF
		}
		got = rerr == nil
		return true
	})
	if err != nil {
		return false, err
	}
	return got, rerr
}

// Close implements Conn: it wakes every waiter, closes the socket, waits for
// operations in flight, and unmaps the rings. The daemon removes its
// /dev/shm files when it sees the socket close; if the daemon is gone, the
// files are removed here.
func (c *IPCConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.broken.Store(true)
	close(c.closing)
	if c.resp != nil {
		c.resp.sem.wake()
	}
	// Shutting the socket down makes it readable (EOF) and the deadline
	// wakes the netpoller, so ReadEvent returns; then the fd can go.
	c.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	c.f.SetDeadline(longAgo)
	c.active.Wait()
	c.teardown()
	return nil
}

// teardown unmaps the rings, and removes the files of a dead server.
func (c *IPCConn) teardown() {
	c.f.Close()
	rings := []*ring{c.req, c.resp, c.ev}
	c.mu.Lock()
	dead := c.dead != nil
	c.mu.Unlock()
	if dead && c.serverPid > 0 && serverGone(int(c.serverPid)) {
		dirs := map[string]bool{}
		for _, r := range rings {
			if r == nil {
				continue
			}
			h, d := r.paths()
			for _, p := range []string{h, d} {
				if p, err := shmPath(p); err == nil {
					if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
						os.Truncate(p, 0)
					}
					dirs[filepath.Dir(p)] = true
				}
			}
		}
		for d := range dirs {
			if strings.HasPrefix(d, shmDir+"qb-") {
				os.Remove(d) // only if empty
			}
		}
	}
	for _, r := range rings {
		r.release()
	}
	c.req, c.resp, c.ev = nil, nil, nil
}

// serverGone probes the daemon's pid as libqb does (up to 4 times, 10ms
// apart), and unlike libqb also counts a zombie as gone: a SIGKILLed daemon
// stays a zombie until its parent reaps it, and its files would leak.
func serverGone(pid int) bool {
	for i := 0; i < 4; i++ {
		if err := unix.Kill(pid, 0); err == unix.ESRCH {
			return true
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			// "pid (comm) S ...": the state follows the last ')'.
			if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
				return true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

var _ Conn = (*IPCConn)(nil)
