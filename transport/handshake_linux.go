package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"

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
// bound ctx to the socket deadline.
func (c *IPCConn) handshake(ctx context.Context, op, shown string) (err error) {
	var req [authRequestSize]byte
	binary.LittleEndian.PutUint32(req[0:], 0xFFFFFFFF) // QB_IPC_MSG_AUTHENTICATE (-1)
	binary.LittleEndian.PutUint32(req[8:], authRequestSize)
	maxMsg := uint32(maxMsgSize)
	if c.cfg.maxMsg != 0 {
		maxMsg = max(c.cfg.maxMsg, authResponseSize)
	}
	binary.LittleEndian.PutUint32(req[16:], maxMsg)
	if err := c.sendAll(req[:]); err != nil {
		return handshakeErr(ctx, op, "send the connection request", err)
	}
	resp := make([]byte, authResponseSize)
	cred, err := c.recvAuth(resp)
	if err != nil {
		return handshakeErr(ctx, op, "read the connection response", err)
	}
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
