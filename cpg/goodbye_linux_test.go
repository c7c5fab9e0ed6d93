package cpg_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// cycles is how many Join+Leave, Join+Close and abandoned Joins each
// goodbye test runs (the measure; corotest.Cycles).
var cycles = corotest.Cycles(300)

// watcher counts, on another node, the members that join and leave group,
// by reason.
type watcher struct {
	mu     sync.Mutex
	joined int
	left   map[cpg.Reason]int
	err    error
	done   chan struct{}
}

func watch(t *testing.T, ctx context.Context, c *cpg.Client, group string) (*watcher, *cpg.Group) {
	t.Helper()
	g, err := c.Join(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{left: map[cpg.Reason]int{}, done: make(chan struct{})}
	self := g.Self()
	// Counting starts with the watcher's own join: changes before it are
	// not delivered to it.
	for {
		ev, err := g.Next(ctx)
		if err != nil {
			t.Fatalf("watcher: %v", err)
		}
		if ev.Kind == corosync.EventConfchg && slices.ContainsFunc(ev.Joined, func(m cpg.Member) bool {
			return m.NodeID == self.NodeID && m.PID == self.PID
		}) {
			break
		}
	}
	go func() {
		defer close(w.done)
		for {
			ev, err := g.Next(ctx)
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			if ev.Kind != corosync.EventConfchg {
				continue
			}
			w.mu.Lock()
			for _, m := range ev.Joined {
				if m.NodeID != self.NodeID || m.PID != self.PID {
					w.joined++
				}
			}
			for _, m := range ev.Left {
				w.left[m.Reason]++
			}
			w.mu.Unlock()
		}
	}()
	return w, g
}

// settle waits until the watcher has seen as many members leave as join
// (by any reason), and returns the counts.
func (w *watcher) settle(t *testing.T, ctx context.Context) (int, map[cpg.Reason]int) {
	t.Helper()
	for {
		w.mu.Lock()
		j, n := w.joined, 0
		for _, v := range w.left {
			n += v
		}
		left := map[cpg.Reason]int{}
		for k, v := range w.left {
			left[k] = v
		}
		err := w.err
		w.mu.Unlock()
		if err != nil {
			t.Fatalf("watcher: %v", err)
		}
		if j == n {
			return j, left
		}
		select {
		case <-ctx.Done():
			t.Fatalf("watcher: %d joined, %v left: %v", j, left, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *watcher) reset() {
	w.mu.Lock()
	w.joined, w.left = 0, map[cpg.Reason]int{}
	w.mu.Unlock()
}

// noNewErrors fails t if any node's daemon logged an error line since
// before (corotest.Cluster.ErrorCounts).
func noNewErrors(t *testing.T, cl *corotest.Cluster, before map[uint32]int, what string) {
	t.Helper()
	for _, n := range cl.Nodes {
		lines := n.ErrorLines()
		t.Logf("%s: node %d error lines %d -> %d", what, n.ID, before[n.ID], len(lines))
		for _, l := range lines[min(before[n.ID], len(lines)):] {
			t.Errorf("%s: node %d logged: %s", what, n.ID, l)
		}
	}
}

// goodbyes runs the three measures on node 1 of cl, a member on
// node 2 watching: Join then Leave at once (Leave answers BUSY until the
// join has gone round totem; Leave waits that out as libcpg does, so no
// BUSY reaches the caller, and every stream ends with ErrLeft), Join then
// Close (the daemon is told with CPG_FINALIZE first, as libcpg's finalize
// does, and sends nothing to the closed connection), and Joins abandoned
// at random points of their handshake. No node's daemon logs an error line,
// the watcher sees every member go (reason leave, or procdown after
// Close), and nothing of ours is left in /dev/shm.
func goodbyes(t *testing.T, cl *corotest.Cluster) {
	ctx := ctxT(t, 5*time.Minute)
	open := map[uint32]int{} // connections other tests hold
	for _, n := range cl.Nodes {
		open[n.ID] = len(corotest.ShmConnections(n.Pid()))
	}
	c1 := dialT(t, cl.Node(1).Dialer())
	c2 := dialT(t, cl.Node(2).Dialer())
	const group = "goodbyes"
	w, wg := watch(t, ctx, c2, group)
	defer wg.Close()
	before := cl.ErrorCounts()

	t.Run("join+leave", func(t *testing.T) {
		w.reset()
		before := cl.ErrorCounts()
		start := time.Now()
		for i := 0; i < cycles; i++ {
			g, err := c1.Join(ctx, group)
			if err != nil {
				t.Fatalf("cycle %d: join: %v", i, err)
			}
			if err := g.Leave(ctx); err != nil {
				t.Fatalf("cycle %d: leave right after join: %v", i, err)
			}
			var end error
			for end == nil {
				_, end = g.Next(ctx)
			}
			if !errors.Is(end, cpg.ErrLeft) {
				t.Fatalf("cycle %d: stream ended with %v, want ErrLeft", i, end)
			}
			g.Close()
		}
		t.Logf("%d Join+Leave cycles in %v: 0 errors, every stream ended with ErrLeft", cycles, time.Since(start))
		joined, left := w.settle(t, ctx)
		if joined != cycles || left[cpg.ReasonLeave] != cycles {
			t.Errorf("watcher: %d joined, left %v; want %d joined and left (leave)", joined, left, cycles)
		}
		noNewErrors(t, cl, before, "join+leave")
	})
	t.Run("join+close", func(t *testing.T) {
		w.reset()
		before := cl.ErrorCounts()
		for i := 0; i < cycles; i++ {
			g, err := c1.Join(ctx, group)
			if err != nil {
				t.Fatalf("cycle %d: join: %v", i, err)
			}
			if i%2 == 1 {
				g.Next(ctx) // the join's own confchg, read or not
			}
			g.Close()
		}
		joined, left := w.settle(t, ctx)
		if joined != cycles || left[cpg.ReasonProcDown] != cycles {
			t.Errorf("watcher: %d joined, left %v; want %d joined and left (procdown)", joined, left, cycles)
		}
		noNewErrors(t, cl, before, "join+close")
	})
	t.Run("abandoned join", func(t *testing.T) {
		w.reset()
		before := cl.ErrorCounts()
		// A whole Join takes a few milliseconds (two connections, the
		// release probe, local_get, join): deadlines up to twice that cut
		// it at every stage.
		var took []time.Duration
		for range 9 {
			t0 := time.Now()
			g, err := c1.Join(ctx, group)
			if err != nil {
				t.Fatal(err)
			}
			took = append(took, time.Since(t0))
			g.Close()
		}
		slices.Sort(took)
		full := took[len(took)/2] // the median Join
		abandoned := 0
		for i := 0; i < cycles; i++ {
			jctx, cancel := context.WithTimeout(ctx, rand.N(2*full))
			g, err := c1.Join(jctx, group)
			cancel()
			switch {
			case err == nil:
				g.Close()
			case errors.Is(err, corosync.ErrTimeout):
				abandoned++
			default:
				t.Fatalf("cycle %d: join: %v", i, err)
			}
		}
		t.Logf("%d of %d Joins abandoned (deadlines up to %v)", abandoned, cycles, 2*full)
		w.settle(t, ctx)
		time.Sleep(200 * time.Millisecond) // the abandoned setups are undone in the background
		noNewErrors(t, cl, before, "abandoned join")
	})
	wg.Close()
	c1.Close()
	c2.Close()
	for _, n := range cl.Nodes {
		waitShm(t, n, open[n.ID])
	}
	noNewErrors(t, cl, before, "all cycles")
}

// waitShm waits until no more than keep connections of ours (those other
// tests hold) are left in /dev/shm for n's daemon.
func waitShm(t *testing.T, n *corotest.Node, keep int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(corotest.ShmConnections(n.Pid())) > keep && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := corotest.ShmConnections(n.Pid()); len(left) > keep {
		t.Errorf("node %d: /dev/shm holds %d connections of ours, want %d: %v", n.ID, len(left), keep, left)
	}
}
