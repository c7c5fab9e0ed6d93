//go:build linux

package netns

import (
	"errors"
	"os"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ino(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestEmptyPathRunsHere(t *testing.T) {
	called := false
	if err := Do("", func() error { called = true; return nil }); err != nil || !called {
		t.Fatalf("Do(\"\") = %v, called %v", err, called)
	}
}

func TestMissingNamespace(t *testing.T) {
	called := false
	err := Do("/nonexistent/netns", func() error { called = true; return nil })
	if err == nil || called || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Do(missing) = %v, called %v", err, called)
	}
}

// TestEntersAndCallerStays enters a fresh namespace (root only) and checks
// that fn ran there while the calling goroutine's thread never moved.
func TestEntersAndCallerStays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	// A namespace of our own: unshare on a throwaway locked thread, and
	// keep a reference to it through that thread's /proc entry.
	ready := make(chan string)
	release := make(chan struct{})
	go func() {
		unixLock()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- ""
			return
		}
		ready <- "/proc/" + itoa(unix.Getpid()) + "/task/" + itoa(unix.Gettid()) + "/ns/net"
		<-release // exits locked: the thread is destroyed
	}()
	path := <-ready
	defer close(release)
	if path == "" {
		t.Fatal("unshare failed")
	}
	want := ino(t, path)
	unixLock()
	defer unixUnlock()
	here := ino(t, "/proc/thread-self/ns/net")
	var inside uint64
	sentinel := errors.New("from fn")
	err := Do(path, func() error { inside = ino(t, "/proc/thread-self/ns/net"); return sentinel })
	if !errors.Is(err, sentinel) {
		t.Fatalf("Do returned %v, want fn's error", err)
	}
	if inside != want {
		t.Fatalf("fn ran in namespace %d, want %d", inside, want)
	}
	if got := ino(t, "/proc/thread-self/ns/net"); got != here {
		t.Fatalf("caller's thread moved from namespace %d to %d", here, got)
	}
}
