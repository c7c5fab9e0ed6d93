package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
)

// TestRealRestarts restarts a real daemon under a client with subscribers
// attached, alternating kill -9 and graceful stop.
func TestRealRestarts(t *testing.T) { restarts(t, 6) }

// TestSoak is the opt-in soak: 100 restarts (make soak).
func TestSoak(t *testing.T) {
	if os.Getenv("COROSYNC_GO_SOAK") == "" {
		t.Skip("the soak is opt-in: run `make soak`")
	}
	restarts(t, 100)
}

type seen struct {
	kind    corosync.EventKind
	quorate bool
	at      time.Time
}

// recorder reads a subscription into a list, checking that nothing between
// EventDisconnected and EventReconnected claims quorum.
type recorder struct {
	mu      sync.Mutex
	events  []seen
	gone    bool
	lies    int
	changed chan struct{}
}

func (r *recorder) run(sub *dispatch.Subscription[quorum.Event]) {
	for ev := range sub.C() {
		r.mu.Lock()
		switch ev.Kind {
		case corosync.EventDisconnected:
			r.gone = true
		case corosync.EventReconnected:
			r.gone = false
		}
		if r.gone && ev.Quorate {
			r.lies++
		}
		r.events = append(r.events, seen{ev.Kind, ev.Quorate, time.Now()})
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
}

// waitFor waits for an event of kind after index from, returning its index.
func (r *recorder) waitFor(ctx context.Context, kind corosync.EventKind, from int) (int, seen, error) {
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if r.events[i].kind == kind {
				e := r.events[i]
				r.mu.Unlock()
				return i, e, nil
			}
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-ctx.Done():
			return 0, seen{}, fmt.Errorf("no %v event: %w", kind, ctx.Err())
		}
	}
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func openFDs() int {
	e, _ := os.ReadDir("/proc/self/fd")
	return len(e)
}

// probeReady dials every 5ms until the daemon accepts a connection and
// returns when it first did.
func probeReady(ctx context.Context, n *corotest.Node) (time.Time, error) {
	for {
		c, err := transport.Dial(ctx, "quorum", transport.Config{NetNS: n.NetNSPath()})
		if err == nil {
			at := time.Now()
			c.Close()
			return at, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func restarts(t *testing.T, n int) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Node(1)
	ctx := context.Background()
	c, err := quorum.Dial(ctx, client.WithDialer(node.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The default Dial picks the model the daemon has: V1 since 3.1 (as
	// far as the release can be told), V0 on 2.x and 3.0, where an explicit
	// V1 is refused before anything is sent.
	want := cl.Daemon().ReleaseLine()
	wantModel := quorum.ModelV0
	if want.AtLeast(corosync.Version3_1_0) {
		wantModel = quorum.ModelV1
	}
	if c.DaemonVersion() != want || c.Model() != wantModel {
		t.Fatalf("%s: DaemonVersion %v, model %v; want %v, %v", cl.Daemon(), c.DaemonVersion(), c.Model(), want, wantModel)
	}
	if v1, err := quorum.Dial(ctx, client.WithDialer(node.Dialer()), quorum.WithModel(quorum.ModelV1)); wantModel == quorum.ModelV1 {
		if err != nil || v1.Model() != quorum.ModelV1 {
			t.Fatalf("Dial(WithModel(ModelV1)): %v", err)
		}
		v1.Close()
	} else if !errors.Is(err, corosync.ErrNotSupported) {
		if err == nil {
			v1.Close()
		}
		t.Fatalf("Dial(WithModel(ModelV1)) on corosync %v: %v, want ErrNotSupported", want, err)
	}
	var recs []*recorder
	var subs []*dispatch.Subscription[quorum.Event]
	var wg sync.WaitGroup
	defer func() {
		for _, s := range subs {
			s.Close()
		}
		wg.Wait()
	}()
	for _, opt := range []dispatch.SubOption{dispatch.LatestWins(), dispatch.Queue(1024), dispatch.Block(16)} {
		sub, err := c.Subscribe(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
		r := &recorder{changed: make(chan struct{}, 1)}
		recs = append(recs, r)
		wg.Add(1)
		go func() { defer wg.Done(); r.run(sub) }()
	}
	time.Sleep(100 * time.Millisecond)
	baseG, baseFD := runtime.NumGoroutine(), openFDs()

	var recovery []time.Duration
	for i := 0; i < n; i++ {
		stepCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		kill := i%2 == 0
		pid := node.Pid()
		froms := make([]int, len(recs))
		for j, r := range recs {
			froms[j] = r.len()
		}
		if kill {
			node.Kill()
		} else {
			node.Stop()
		}
		for j, r := range recs {
			if froms[j], _, err = r.waitFor(stepCtx, corosync.EventDisconnected, froms[j]); err != nil {
				t.Fatalf("restart %d, subscriber %d: %v", i, j, err)
			}
		}
		if c.Latest().Quorate {
			t.Fatalf("restart %d: client says quorate with the daemon gone", i)
		}
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		ready, err := probeReady(stepCtx, node)
		if err != nil {
			t.Fatalf("restart %d: daemon never ready: %v\n%s", i, err, node.Log())
		}
		var last time.Time
		for j, r := range recs {
			k, _, err := r.waitFor(stepCtx, corosync.EventReconnected, froms[j])
			if err != nil {
				t.Fatalf("restart %d, subscriber %d: %v", i, j, err)
			}
			_, snap, err := r.waitFor(stepCtx, corosync.EventSnapshot, k)
			if err != nil {
				t.Fatalf("restart %d, subscriber %d: %v", i, j, err)
			}
			if snap.at.After(last) {
				last = snap.at
			}
		}
		recovery = append(recovery, max(0, last.Sub(ready)))
		// The delivered state is the daemon's real state.
		q, _, err := node.QuorumTool(stepCtx)
		if err != nil || q != c.Latest().Quorate {
			t.Fatalf("restart %d: corosync-quorumtool quorate=%v (%v), client %v", i, q, err, c.Latest().Quorate)
		}
		if m, err := node.Members(stepCtx); err != nil || !slices.Equal(m, c.Latest().Members) {
			t.Fatalf("restart %d: members %v (%v), client %v", i, m, err, c.Latest().Members)
		}
		if c.DaemonVersion() != want || c.Model() != wantModel {
			t.Fatalf("restart %d: DaemonVersion %v, model %v; want %v, %v", i, c.DaemonVersion(), c.Model(), want, wantModel)
		}
		// Nothing of the dead daemon is left in /dev/shm.
		deadline := time.Now().Add(5 * time.Second)
		for len(corotest.ShmFiles(pid)) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if left := corotest.ShmFiles(pid); len(left) > 0 {
			t.Fatalf("restart %d (kill=%v): /dev/shm still holds %v", i, kill, left)
		}
		cancel()
	}
	for j, r := range recs {
		if r.lies > 0 {
			t.Fatalf("subscriber %d was told quorate %d times while the daemon was gone", j, r.lies)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if g, fd := runtime.NumGoroutine(), openFDs(); g > baseG || fd > baseFD {
		t.Fatalf("after %d restarts: goroutines %d (was %d), fds %d (was %d)", n, g, baseG, fd, baseFD)
	}
	sorted := slices.Clone(recovery)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	p50, p99 := sorted[len(sorted)/2], sorted[(len(sorted)*99+99)/100-1]
	t.Logf("%d restarts (alternating kill -9 and SIGTERM): recovery from daemon ready to snapshot delivered: p50 %v, p99 %v, max %v",
		n, p50.Round(time.Millisecond), p99.Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond))
}
