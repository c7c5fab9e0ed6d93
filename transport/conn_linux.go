package transport

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// This file: the connection, its state (usable, dead, closed), and the two
// idioms every operation uses: binding a ctx to a socket deadline, and
// guarding accesses to the shared mappings.

// IPCConn is a libqb shared-memory IPC connection. It implements Conn.
type IPCConn struct {
	service   string
	reqOp     string // operation names in errors, built once
	evOp      string
	cfg       Config
	f         *os.File
	rc        syscall.RawConn
	fd        int // valid until Close has waited for every operation
	spin      time.Duration
	req       *ring
	resp      *ring
	ev        *ring
	maxMsg    int
	serverPid int32     // from the daemon's credentials in its response
	peerPid   int32     // the listener's pid (SO_PEERCRED at connect)
	bases     [3]string // the rings' base paths named in the response
	hs        handshakeState
	cleanup   runtime.Cleanup

	lock    chan struct{} // request path: ring write + post + byte + response
	notify  notifier      // the notification byte; guarded by lock
	closing chan struct{}
	broken  atomic.Bool // closed or dead: waiters give up

	mu     sync.Mutex
	closed bool
	dead   error
	active sync.WaitGroup // operations that touch the mappings

	evMu  sync.Mutex
	evBuf []byte
	bytes byteReader // notification bytes of the event path; guarded by evMu
	owed  int        // socket bytes owed for events already read
	more  bool       // another event was posted when the last one was read
	// backlogAt is when a ReadEvent last left another event in the ring
	// (UnixNano): the daemon may have queued events that did not fit.
	backlogAt atomic.Int64
	evCtx     *heldCtx              // ReadEvent's ctx, kept bound between calls; guarded by evMu
	setRD     func(time.Time) error // f.SetReadDeadline, bound once: a method value allocates
}

func newConn(service string, cfg Config, fd int) (*IPCConn, error) {
	f := os.NewFile(uintptr(fd), "corosync-"+service)
	c := &IPCConn{service: service, reqOp: service + " request", evOp: service + " event",
		cfg: cfg, f: f, fd: fd, spin: spinFor(cfg.SpinWait),
		lock: make(chan struct{}, 1), closing: make(chan struct{})}
	c.notify.c = c
	c.notify.try = c.notify.send
	c.bytes.init()
	c.evCtx = &heldCtx{}
	c.setRD = f.SetReadDeadline
	var err error
	if c.rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

const defaultSpin = 50 * time.Microsecond

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

// armCleanup makes the garbage collector release the rings of a connection
// that its owner dropped without Close. The socket has its own finalizer
// (os.File); once it closes, the daemon frees its side.
func (c *IPCConn) armCleanup() {
	c.cleanup = runtime.AddCleanup(c, func(a abandoned) {
		a.ev.unbind()
		releaseRings(a.rings)
	}, abandoned{[3]*ring{c.req, c.resp, c.ev}, c.evCtx})
}

// abandoned is what the cleanup of a connection dropped without Close
// releases; it must not refer to the connection itself.
type abandoned struct {
	rings [3]*ring
	ev    *heldCtx
}

// enter starts an operation that touches the mappings or the fd: Close
// waits for it before it unmaps and closes them. A call made after Close
// fails with ErrClosed, whatever happened before.
func (c *IPCConn) enter(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ClosedError(op)
	}
	if c.dead != nil {
		return c.dead
	}
	c.active.Add(1)
	return nil
}

// stateErr is the error of an operation in flight that found the
// connection broken. A connection found dead before its owner closed it
// stays dead (LostError, corosync.ErrLibrary) for the calls that were in
// flight on it: the owner closing a lost connection must not turn their
// error into ErrClosed.
func (c *IPCConn) stateErr(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.dead != nil:
		return c.dead
	case c.closed:
		return ClosedError(op)
	}
	return LostError(op, "connection unusable", nil)
}

func (c *IPCConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// markDead records that the connection is unusable and wakes every waiter.
// The socket is shut down so the daemon drops its side at once.
func (c *IPCConn) markDead(op, why string, cause error) error {
	c.mu.Lock()
	if c.dead == nil && !c.closed {
		c.dead = LostError(op, why, cause)
	}
	err := c.dead
	if err == nil {
		err = ClosedError(op)
	}
	c.mu.Unlock()
	c.broken.Store(true)
	c.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	if c.resp != nil {
		c.resp.sem.wake()
	}
	return err
}

// killOnRingError makes a bad ring (errRing: corrupt contents, or a memory
// fault turned into an error by faultGuard) kill the connection. Deferred
// by every operation on the rings, after faultGuard:
//
//	defer c.killOnRingError(op, &err)
//	defer faultGuard(debug.SetPanicOnFault(true), &err)
func (c *IPCConn) killOnRingError(op string, err *error) {
	if *err == nil || !errors.Is(*err, errRing) {
		return
	}
	var oe *corosync.OpError
	if errors.As(*err, &oe) {
		return // already reported
	}
	*err = c.markDead(op, "shared memory", *err)
}

// faultGuard turns a memory fault in the shared mappings (a file truncated
// under us raises SIGBUS) into an error wrapping errRing, instead of a crash.
// It is the one way this package guards the mappings; every function that
// touches them begins with
//
//	defer faultGuard(debug.SetPanicOnFault(true), &err)
func faultGuard(old bool, err *error) {
	v := recover()
	debug.SetPanicOnFault(old)
	if v == nil {
		return
	}
	if re, ok := v.(runtime.Error); ok {
		if _, ok := re.(interface{ Addr() uintptr }); ok {
			*err = errors.Join(errRing, errors.New("memory fault in the shared mapping (file truncated?): "+re.Error()))
			return
		}
	}
	panic(v)
}

var longAgo = time.Unix(1, 0)

// heldCtx keeps a ctx bound to the socket between calls (see bindCtx). A
// dispatcher reads every event with the same long-lived ctx; binding it
// once instead of per call takes the two allocations and the AfterFunc
// registration of bindCtx off the event path. A call with a different ctx
// (another Done channel) releases the old binding first, so no deadline of
// a previous ctx survives into it.
type heldCtx struct {
	done    <-chan struct{}
	release func()
}

// bind makes ctx the bound one. set is the file's deadline setter.
func (h *heldCtx) bind(ctx context.Context, set func(time.Time) error) {
	d := ctx.Done()
	if d == h.done && h.release != nil {
		return
	}
	h.unbind()
	h.done, h.release = d, bindCtx(ctx, set)
}

// unbind releases the binding: afterwards no ctx can touch the deadline,
// and the ctx no longer refers to the file.
func (h *heldCtx) unbind() {
	if h.release != nil {
		h.release()
	}
	h.done, h.release = nil, nil
}

// bindCtx makes the end of ctx (cancellation or deadline) interrupt
// blocking socket I/O through set (the file's SetDeadline or
// SetReadDeadline) until release is called. release returns only when ctx
// can no longer touch the deadline, and leaves it cleared, so no call can
// leave a stale deadline behind for the next one. It is the one way this
// package ties a ctx to the socket. (ctx's deadline is not copied onto the
// socket: the socket would then time out a moment before ctx reports it,
// and the two would disagree about why the call ended.)
func bindCtx(ctx context.Context, set func(time.Time) error) (release func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	var mu sync.Mutex
	live, fired := true, false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if live {
			fired = true
			set(longAgo)
		}
	})
	return func() {
		if stop() {
			return // the AfterFunc never ran and now never will
		}
		mu.Lock()
		live = false
		dirty := fired
		mu.Unlock()
		if dirty {
			set(time.Time{})
		}
	}
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

var _ Conn = (*IPCConn)(nil)
