package transport

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// This file: teardown. Close wakes every waiter, closes the socket, waits for
// operations in flight, and unmaps the rings. The daemon removes its
// /dev/shm files when it sees the socket close; if the daemon is gone, the
// files are removed here.

// Close implements Conn.
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
	c.evMu.Lock()
	c.evCtx.unbind() // the ctx must not keep the file alive
	c.evMu.Unlock()
	c.cleanup.Stop()
	c.teardown()
	return nil
}

// teardown closes the socket, removes the files of a dead server, and
// releases the rings.
func (c *IPCConn) teardown() {
	c.f.Close()
	rings := [3]*ring{c.req, c.resp, c.ev}
	c.mu.Lock()
	dead := c.dead != nil
	c.mu.Unlock()
	if dead && c.serverPid > 0 && serverGone(int(c.serverPid)) {
		removeFiles(rings)
	}
	releaseRings(rings)
	c.req, c.resp, c.ev = nil, nil, nil
}

// releaseRings detaches from and unmaps the rings. It is also the cleanup
// of a connection dropped without Close, so it touches nothing but them.
func releaseRings(rings [3]*ring) {
	for _, r := range rings {
		if r == nil {
			continue
		}
		func() {
			var err error
			defer faultGuard(debug.SetPanicOnFault(true), &err)
			r.detach()
		}()
		r.unmap()
	}
}

// removeFiles removes the /dev/shm files of the rings (and libqb's directory
// around them, once empty) after their server died.
func removeFiles(rings [3]*ring) {
	dirs := map[string]bool{}
	for _, r := range rings {
		if r == nil {
			continue
		}
		var h, d string
		func() {
			var err error
			defer faultGuard(debug.SetPanicOnFault(true), &err)
			h, d = r.paths()
		}()
		for _, p := range []string{h, d} {
			if p == "" {
				continue
			}
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
