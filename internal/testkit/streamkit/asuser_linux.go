package streamkit

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/corosync-go/corosync/transport"
)

// The user nobody on Debian.
const (
	nobodyUID = 65534
	nobodyGID = 65534
)

// AsUser returns a Dialer that connects as uid:gid: the daemon sees those
// credentials (SCM_CREDENTIALS, the files it creates for the connection
// belong to them). Only the dialling thread changes its credentials, with
// raw system calls (syscall.Setresuid would change every thread of the
// process), and changes them back before it serves anything else; the
// saved uid stays 0, so it can.
func AsUser(d transport.Dialer, uid, gid int) transport.Dialer { return asUser{d, uid, gid} }

type asUser struct {
	d        transport.Dialer
	uid, gid int
}

func (a asUser) Dial(ctx context.Context, service string) (transport.Conn, error) {
	type result struct {
		c   transport.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked if restoring fails: the thread then dies with the goroutine
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(a.gid), uintptr(a.gid), 0); e != 0 {
			done <- result{nil, fmt.Errorf("setresgid: %w", e)}
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(a.uid), uintptr(a.uid), 0); e != 0 {
			done <- result{nil, fmt.Errorf("setresuid: %w", e)}
			return
		}
		c, err := a.d.Dial(ctx, service)
		_, _, e1 := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0)
		_, _, e2 := unix.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0)
		if e1 == 0 && e2 == 0 {
			runtime.UnlockOSThread()
		}
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}
