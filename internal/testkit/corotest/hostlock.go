//go:build linux

package corotest

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// The host lock keeps tests that load the machine on purpose (the stress
// tests) apart from every other cluster on this host, across the test
// binaries that `go test ./...` runs side by side: on 2 cores, a stress run
// beside a 5-node knet cluster starves totem (a 1 s token, process pauses
// of 1 s) and the cluster never forms. Every Start holds the lock shared
// for the cluster's life; Exclusive holds it alone.
var hostLock struct {
	mu        sync.Mutex
	exclusive int // tests of this process holding it exclusively
	shares    int // shares this process holds
}

// lockPath is the host-wide lock file; turnstilePath is the one that gives
// Exclusive precedence over shares asked for after it (flock alone would let
// a stream of overlapping shares starve it).
func lockPath() string      { return filepath.Join(os.TempDir(), "corosync-go-clusters.lock") }
func turnstilePath() string { return filepath.Join(os.TempDir(), "corosync-go-clusters.turnstile") }

// flock takes the host lock in mode how (LOCK_SH or LOCK_EX) on a file of
// its own, saying so in t's log when it has to wait, and releases it when t
// ends. With gate it passes the turnstile first (shared for a share,
// exclusive for Exclusive, held only while it waits for the lock), so that
// shares asked for after an Exclusive wait for it. A process that holds a
// share already takes another without the gate: an Exclusive waiting for
// that share to go would otherwise hold the gate against it for good.
func flock(t testing.TB, how int, what string, gate bool) {
	t.Helper()
	var g *os.File
	if gate {
		g = lockFile(t, turnstilePath(), how, what)
	}
	f := lockFile(t, lockPath(), how, what)
	if g != nil {
		g.Close()
	}
	t.Cleanup(func() { f.Close() })
}

// lockFile opens path and takes its flock in mode how, waiting for it.
func lockFile(t testing.TB, path string, how int, what string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("corotest: host lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		t.Logf("corotest: waiting for %s of the host's corosync clusters (%s)", what, path)
		for {
			err = syscall.Flock(int(f.Fd()), how)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			f.Close()
			t.Fatalf("corotest: host lock: %v", err)
		}
	}
	return f
}

// shareHost holds the host lock shared until t ends, unless a test of this
// process holds it exclusively already.
func shareHost(t testing.TB) {
	t.Helper()
	hostLock.mu.Lock()
	held, gate := hostLock.exclusive > 0, hostLock.shares == 0
	hostLock.mu.Unlock()
	if held {
		return
	}
	flock(t, syscall.LOCK_SH, "a share", gate)
	hostLock.mu.Lock()
	hostLock.shares++
	hostLock.mu.Unlock()
	t.Cleanup(func() {
		hostLock.mu.Lock()
		hostLock.shares--
		hostLock.mu.Unlock()
	})
}

// Exclusive makes t the only test on this host that runs corosync clusters
// until it ends: it waits for the clusters of other test processes to go,
// and holds theirs off. For tests that load the machine on purpose. Call it
// before Start.
func Exclusive(t testing.TB) {
	t.Helper()
	flock(t, syscall.LOCK_EX, "sole use", true)
	hostLock.mu.Lock()
	hostLock.exclusive++
	hostLock.mu.Unlock()
	t.Cleanup(func() {
		hostLock.mu.Lock()
		hostLock.exclusive--
		hostLock.mu.Unlock()
	})
}
