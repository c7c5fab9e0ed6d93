package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
)

// This file: where the daemon listens, and opening the socket to it.

const (
	sunPathMax       = 108
	defaultForceFile = "/etc/libqb/force-filesystem-sockets"
	defaultSocketDir = "/tmp"
)

// Dial connects to corosync's IPC service (e.g. "quorum") over libqb's
// shared-memory transport. ctx bounds the whole handshake.
//
// If ctx ends while the daemon is creating the connection (the request sent,
// its answer not yet read), Dial returns corosync.ErrTimeout at once and
// lets the handshake complete in the background (for up to 10 s) before it
// closes the socket: libqb's server logs "Error in connection setup ...:
// Broken pipe" for a client that hangs up before its answer, which a C
// client, unable to abandon a connect, never causes.
//
// However a connection ends (closed, failed while being set up, found
// dead), if its daemon is gone, the connection's files in /dev/shm are
// removed: the ones the daemon's answer named and, when no answer came,
// the ones libqb's names give for that daemon and this process. libqb's
// own client removes a dead daemon's files only at finalize, and neither
// the directory nor the files of a connection whose setup failed.
func Dial(ctx context.Context, service string, cfg Config) (*IPCConn, error) {
	op := "dial " + service
	if service == "" || len(service) > 235 || strings.ContainsAny(service, "/\x00") {
		return nil, corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("invalid service name %q", service))
	}
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
	var tried []string
	var lastErr error
	for _, kind := range addrs {
		c, err := dialOnce(ctx, service, kind, cfg)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			return nil, err
		}
		_, _, shown := sockaddr(service, kind, cfg)
		tried = append(tried, shown)
	}
	// Every form was refused: name each socket tried, in the order tried.
	where := strings.Join(tried, " nor on ")
	if cfg.NetNS != "" {
		where += " in network namespace " + cfg.NetNS
	}
	var cause syscall.Errno
	if !errors.As(lastErr, &cause) {
		return nil, lastErr
	}
	return nil, dialErr(op, corosync.ErrLibrary, "corosync is not running (nothing listens on %s): %w", where, cause)
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

// socketIn creates a unix stream socket, in network namespace ns if set.
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

// dialOnce connects to one form of the address and runs the handshake.
func dialOnce(ctx context.Context, service, kind string, cfg Config) (*IPCConn, error) {
	op := "dial " + service
	if err := ctx.Err(); err != nil {
		return nil, CtxError(op, err)
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
	c, err := newConn(service, cfg, fd)
	if err != nil {
		return nil, corosync.NewError(op, corosync.ErrLibrary, err)
	}
	// The daemon's pid, known before it answers: if it dies while creating
	// the connection, its files are found by it (teardown).
	if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
		c.peerPid = cred.Pid
	}
	// The whole handshake, ring mapping included, runs under ctx; release
	// clears the socket deadline only once ctx can no longer set it.
	release := bindCtx(ctx, c.f.SetDeadline)
	err = c.handshake(ctx, op, shown)
	release()
	if err != nil {
		if c.hs.pending() && errors.Is(err, corosync.ErrTimeout) {
			// The caller gave up while the daemon creates the connection:
			// let it finish, then close, in the background.
			unwinding.Add(1)
			go c.finishAbandoned()
			return nil, err
		}
		c.teardown(c.hungUp())
		return nil, err
	}
	c.armCleanup()
	return c, nil
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}
