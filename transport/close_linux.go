package transport

import (
	"errors"
	"fmt"
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
// files are removed here, however the connection ended: closed, failed
// while being set up, or found dead.

// Close implements Conn.
func (c *IPCConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	dead := c.dead != nil
	c.mu.Unlock()
	// Whether the daemon has hung up, asked before our own shutdown makes
	// the socket look hung up.
	hup := dead || c.hungUp()
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
	c.teardown(hup)
	return nil
}

// teardown closes the socket, removes the files of a dead server, and
// releases the rings. hup says whether the daemon's end had hung up (or
// the connection was found dead): only then is the daemon looked for.
func (c *IPCConn) teardown(hup bool) {
	c.f.Close()
	rings := [3]*ring{c.req, c.resp, c.ev}
	pid := c.serverPid
	if pid <= 0 {
		pid = c.peerPid
	}
	if hup && pid > 0 && serverGone(int(pid)) {
		removeFiles(rings, c.bases)
		removeOrphans(int(pid))
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
// around them, once empty) after their server died: those named in the
// mapped headers and those the connection response named (bases), which
// cover rings not (or not yet) mapped.
func removeFiles(rings [3]*ring, bases [3]string) {
	var files []string
	for i, r := range rings {
		if bases[i] != "" {
			files = append(files, bases[i]+"-header", bases[i]+"-data")
		}
		if r == nil {
			continue
		}
		var h, d string
		func() {
			var err error
			defer faultGuard(debug.SetPanicOnFault(true), &err)
			h, d = r.paths()
		}()
		files = append(files, h, d)
	}
	dirs := map[string]bool{}
	for _, p := range files {
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
	for d := range dirs {
		if strings.HasPrefix(d, shmDir+"qb-") {
			os.Remove(d) // only if empty
		}
	}
}

// removeOrphans removes what the dead server with pid left in /dev/shm for
// connections of this process, found by libqb's names: the directory
// qb-<server>-<client>-<fd>-XXXXXX (libqb 1.0.5 and later) or the flat
// files qb-<service>-{request,response,event}-<server>-<client>-<fd>-*
// (older). It covers connections the server died creating, whose response
// (and so whose paths) never came. Every connection of this process to
// that server is dead, so none of them is still in use.
func removeOrphans(pid int) {
	me := os.Getpid()
	for _, pat := range []string{"qb-%d-%d-*", "qb-*-request-%d-%d-*", "qb-*-response-%d-%d-*", "qb-*-event-%d-%d-*"} {
		m, _ := filepath.Glob(shmDir + fmt.Sprintf(pat, pid, me))
		for _, p := range m {
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				ents, _ := os.ReadDir(p)
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), "qb-") && e.Type().IsRegular() {
						os.Remove(filepath.Join(p, e.Name()))
					}
				}
			}
			os.Remove(p)
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
