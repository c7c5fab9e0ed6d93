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
}

// lockPath is the host-wide lock file.
func lockPath() string { return filepath.Join(os.TempDir(), "corosync-go-clusters.lock") }

// flock takes the host lock in mode how (LOCK_SH or LOCK_EX) on a file of
// its own, saying so in t's log when it has to wait, and releases it when t
// ends.
func flock(t testing.TB, how int, what string) {
	t.Helper()
	f, err := os.OpenFile(lockPath(), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("corotest: host lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		t.Logf("corotest: waiting for %s of the host's corosync clusters (%s)", what, lockPath())
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
	t.Cleanup(func() { f.Close() })
}

// shareHost holds the host lock shared until t ends, unless a test of this
// process holds it exclusively already.
func shareHost(t testing.TB) {
	t.Helper()
	hostLock.mu.Lock()
	held := hostLock.exclusive > 0
	hostLock.mu.Unlock()
	if !held {
		flock(t, syscall.LOCK_SH, "a share")
	}
}

// Exclusive makes t the only test on this host that runs corosync clusters
// until it ends: it waits for the clusters of other test processes to go,
// and holds theirs off. For tests that load the machine on purpose. Call it
// before Start.
func Exclusive(t testing.TB) {
	t.Helper()
	flock(t, syscall.LOCK_EX, "sole use")
	hostLock.mu.Lock()
	hostLock.exclusive++
	hostLock.mu.Unlock()
	t.Cleanup(func() {
		hostLock.mu.Lock()
		hostLock.exclusive--
		hostLock.mu.Unlock()
	})
}
