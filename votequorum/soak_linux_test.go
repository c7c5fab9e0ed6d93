package votequorum_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// TestRealRestarts restarts a real daemon 6 times under a client with two
// subscribers, alternating kill -9 and SIGTERM.
func TestRealRestarts(t *testing.T) {
	corotest.Sparse(t, "reconnects are covered by TestReal and TestQdevice on every build")
	vqRestarts(t, 6)
}

// TestSoak is the opt-in soak: 100 restarts (make soak).
func TestSoak(t *testing.T) {
	if os.Getenv("COROSYNC_GO_SOAK") == "" {
		t.Skip("the soak is opt-in: run `make soak`")
	}
	vqRestarts(t, 100)
}

// vqWatch reads a subscription and counts any event claiming quorum
// between EventDisconnected and EventReconnected.
type vqWatch struct {
	mu    sync.Mutex
	kinds []corosync.EventKind
	gone  bool
	lies  int
}

func (w *vqWatch) run(sub *dispatch.Subscription[votequorum.Event]) {
	for ev := range sub.C() {
		w.mu.Lock()
		switch ev.Kind {
		case corosync.EventDisconnected:
			w.gone = true
		case corosync.EventReconnected:
			w.gone = false
		}
		if w.gone && ev.Quorate {
			w.lies++
		}
		w.kinds = append(w.kinds, ev.Kind)
		w.mu.Unlock()
	}
}

// sawAfter reports whether kinds appear in order after index from.
func (w *vqWatch) sawAfter(from int, kinds ...corosync.EventKind) (bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := from
	for _, k := range kinds {
		j := slices.Index(w.kinds[min(i, len(w.kinds)):], k)
		if j < 0 {
			return false, len(w.kinds)
		}
		i += j + 1
	}
	return true, len(w.kinds)
}

func vqRestarts(t *testing.T, n int) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Node(1)
	c := dial(t, node)
	watchers := []*vqWatch{{}, {}}
	var wg sync.WaitGroup
	defer wg.Wait() // after the subscriptions are closed (deferred below)
	for i, opt := range []dispatch.SubOption{dispatch.LatestWins(), dispatch.Queue(1024)} {
		sub, err := c.Subscribe(ctxT(t, 10*time.Second), opt)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); watchers[i].run(sub) }()
		defer sub.Close()
	}
	checkInfo(t, c, node)
	baseG := runtime.NumGoroutine()
	var recovery []time.Duration
	for i := 0; i < n; i++ {
		marks := make([]int, len(watchers))
		for j, w := range watchers {
			_, marks[j] = w.sawAfter(0)
		}
		if i%2 == 0 {
			must(t, node.Kill())
		} else {
			must(t, node.Stop())
		}
		waitFor(t, "disconnected", func() bool {
			for j, w := range watchers {
				if ok, _ := w.sawAfter(marks[j], corosync.EventDisconnected); !ok {
					return false
				}
			}
			return true
		})
		if c.Latest().Quorate {
			t.Fatalf("restart %d: Latest is quorate while the daemon is down", i)
		}
		if _, err := c.Info(ctxT(t, time.Second), 0); !errors.Is(err, votequorum.ErrNotConnected) || !errors.Is(err, corosync.ErrLibrary) {
			t.Fatalf("restart %d: Info while down: %v", i, err)
		}
		must(t, node.Start())
		ready := time.Now()
		waitFor(t, "reconnected", func() bool {
			for j, w := range watchers {
				if ok, _ := w.sawAfter(marks[j], corosync.EventDisconnected, corosync.EventReconnected, corosync.EventSnapshot); !ok {
					return false
				}
			}
			return true
		})
		recovery = append(recovery, time.Since(ready))
		checkInfo(t, c, node)
	}
	for i, w := range watchers {
		if w.lies != 0 {
			t.Fatalf("subscriber %d was told quorate %d times while the daemon was gone", i, w.lies)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > baseG+2 {
		t.Fatalf("goroutines %d after %d restarts (was %d)", g, n, baseG)
	}
	slices.Sort(recovery)
	t.Logf("%d restarts: from daemon start to snapshot delivered: p50 %v, p99 %v, max %v",
		n, recovery[len(recovery)/2], recovery[len(recovery)*99/100], recovery[len(recovery)-1])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
