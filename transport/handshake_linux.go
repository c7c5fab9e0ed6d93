package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// This file: the connection request and response (libqb's "authentication"),
// the daemon's credentials, and mapping the rings the daemon names.

const (
	maxMsgSize        = 1 << 20 // what every corosync client library asks for
	authRequestSize   = 24
	authResponseSize  = 12328
	connTypeSHM       = 1
	respPathOff       = 40
	qbMsgAuthenticate = -1
)

// handshake sends the connection request, reads the response with the
// sender's credentials, checks them, and maps the three rings. The caller has
// bound ctx to the socket deadline. If ctx ends after the request was sent
// and before the whole response arrived, c.hs says so (pending): the daemon
// is then setting the connection up, and the caller lets it finish
// (finishAbandoned) rather than break it off.
func (c *IPCConn) handshake(ctx context.Context, op, shown string) (err error) {
	var req [authRequestSize]byte
	binary.LittleEndian.PutUint32(req[0:], 0xFFFFFFFF) // QB_IPC_MSG_AUTHENTICATE (-1)
	binary.LittleEndian.PutUint32(req[8:], authRequestSize)
	maxMsg := uint32(maxMsgSize)
	if c.cfg.maxMsg != 0 {
		maxMsg = max(c.cfg.maxMsg, authResponseSize)
	}
	binary.LittleEndian.PutUint32(req[16:], maxMsg)
	c.hs.resp = make([]byte, authResponseSize)
	c.hs.oob = make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	if err := c.sendAll(req[:]); err != nil {
		return handshakeErr(ctx, op, "send the connection request", err)
	}
	if err := c.recvAuth(); err != nil {
		return handshakeErr(ctx, op, "read the connection response", err)
	}
	resp, cred := c.hs.resp, c.hs.cred
	c.rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 0) })
	if cred == nil {
		c.rc.Control(func(fd uintptr) { cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	}
	if cred == nil {
		return dialErr(op, corosync.ErrSecurity, "the daemon's credentials are unknown")
	}
	c.serverPid = cred.Pid
	if cred.Uid != 0 && !c.cfg.AllowNonRootServer {
		return dialErr(op, corosync.ErrSecurity,
			"the process answering on %s (pid %d) runs as uid %d, not root; refusing it (set Config.AllowNonRootServer to accept)", shown, cred.Pid, cred.Uid)
	}
	defer faultGuard(debug.SetPanicOnFault(true), &err)
	if err := c.parseAuth(op, resp); err != nil {
		return err
	}
	if testHookRingsMapped != nil {
		testHookRingsMapped()
	}
	return nil
}

// handshakeState is the progress of the connection request and response.
type handshakeState struct {
	sent bool        // the whole request was sent
	resp []byte      // the response, read up to got
	got  int         // bytes of resp read
	oob  []byte      // room for the sender's credentials
	cred *unix.Ucred // the sender's credentials, once seen
}

// pending reports whether the daemon has the connection request and has
// not yet sent all of its response: it is creating the connection.
func (h *handshakeState) pending() bool { return h.sent && h.got < len(h.resp) }

// unwindTimeout bounds how long a handshake its caller abandoned is given
// to complete in the background. corosync answers in milliseconds.
const unwindTimeout = 10 * time.Second

// unwinding counts the handshakes completing in the background (tests wait
// for them).
var unwinding sync.WaitGroup

// finishAbandoned completes, in the background, a handshake whose ctx
// ended while the daemon was creating the connection, then closes the
// connection. Closing the socket before the daemon has sent its response
// makes it log "Error in connection setup (...): Broken pipe"; a C client,
// which cannot abandon a connect, never causes that. Once the response is
// read, closing is a normal disconnect: the daemon removes the
// connection's files. Bounded by unwindTimeout.
func (c *IPCConn) finishAbandoned() {
	defer unwinding.Done()
	c.f.SetDeadline(time.Now().Add(unwindTimeout))
	err := c.recvAuth()
	c.teardown(err != nil || c.hungUp())
}

// testHookRingsMapped, when set by a test, runs at the end of a successful
// handshake, still under the dial's ctx.
var testHookRingsMapped func()

func handshakeErr(ctx context.Context, op, what string, err error) error {
	if ctx.Err() != nil {
		return CtxError(op, fmt.Errorf("%s: %w", what, ctx.Err()))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The socket deadline is ctx's deadline; it can fire a moment
		// before ctx's own timer does.
		return CtxError(op, fmt.Errorf("%s: %w", what, context.DeadlineExceeded))
	}
	return corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%s: %w", what, err))
}

// sendAll sends the connection request; c.hs.sent once it is all out.
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
	c.hs.sent = true
	return nil
}

// recvAuth reads the rest of the connection response into c.hs.resp, and
// the SCM_CREDENTIALS of the sender.
func (c *IPCConn) recvAuth() error {
	h := &c.hs
	for h.got < len(h.resp) {
		var n, oobn int
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), h.resp[h.got:], h.oob, unix.MSG_NOSIGNAL|unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: the daemon closed the connection after %d of %d bytes", syscall.ENOTCONN, h.got, len(h.resp))
		}
		if h.cred == nil && oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(h.oob[:oobn]); err == nil {
				for i := range msgs {
					if u, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
						h.cred = u
						break
					}
				}
			}
		}
		h.got += n
	}
	return nil
}

// parseAuth checks the connection response and maps the rings it names.
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
	names := [...]string{"request", "response", "event"}
	var bases [3]string
	for i, name := range names {
		field := b[respPathOff+i*pathMax : respPathOff+(i+1)*pathMax]
		if field[pathMax-1] != 0 {
			return dialErr(op, corosync.ErrMessageError, "connection response: field %s path is not NUL-terminated", name)
		}
		bases[i] = cString(field)
		if p, err := shmPath(bases[i]); err == nil {
			c.bases[i] = p // the daemon has created the files: known before any is opened
		}
	}
	var err error
	for i, r := range []**ring{&c.req, &c.resp, &c.ev} {
		if *r, err = openRing(names[i], bases[i]); err != nil {
			return corosync.NewError(op, corosync.ErrLibrary, err)
		}
	}
	if rc := c.req.refCount(); rc != 2 {
		return dialErr(op, corosync.ErrLibrary, "%w: request ring ref_count is %d after attach, want 2", ErrDisconnected, rc)
	}
	return nil
}
