package cmap_test

import (
	"context"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
)

// TestIterAround2x checks on a fake corosync 2.4 that no ITER_NEXT of any
// iteration returns a key under runtime.connections., and that each
// prefix lists every key of the map with that prefix outside it, in the
// map's order, plus the connection counters; keys next to the subtree in
// byte order (runtime.conn, runtime.connections, runtime.connectionsX,
// runtime.connections-) included.
func TestIterAround2x(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := mock.NewCluster(1, mock.WithDaemonVersion(corosync.Version2_4))
	c, err := cmap.Dial(ctx, client.WithDialer(cl.Node(1)), cmap.WithDaemonKeyWrites())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := c.DaemonVersion(); v != corosync.Version2_4 {
		t.Fatalf("DaemonVersion %v", v)
	}
	for _, k := range []string{
		"runtime", "runtime.conn", "runtime.connections", "runtime.connectionsX", "runtime.connections-",
		"runtime.connections.closed", "runtime.connections.cmap:12:0x1.name", "runtime.connections.zz:3:0x2.requests",
		"runtime.cz", "runtime.z", "rz.x", "zz.x", "A.x", "000", "runtime.conf.x", "runtime.connect", "runtime.connections/",
	} {
		if err := c.SetUint32(ctx, k, 1); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var inside []string
	cmap.SetTestHookNext(func(key string) {
		if strings.HasPrefix(key, "runtime.connections.") {
			mu.Lock()
			inside = append(inside, key)
			mu.Unlock()
		}
	})
	defer cmap.SetTestHookNext(nil)
	var all []string
	for e, err := range cmap.IterUnguarded(c, ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e.Key)
	}
	inside = nil
	if !slices.IsSorted(all) {
		t.Fatalf("the mock's order is not byte order: %v", all)
	}
	for _, p := range []string{"", "r", "ru", "runtime", "runtime.", "runtime.c", "runtime.conn", "runtime.connections",
		"runtime.connections.", "runtime.connections.a", "runtime.connections.c", "runtime.connections.cmap", "totem.", "zz"} {
		var want []string
		for _, k := range all {
			_, conn := strings.CutPrefix(k, "runtime.connections.")
			if strings.HasPrefix(k, p) && (!conn || k == "runtime.connections.active" || k == "runtime.connections.closed") {
				want = append(want, k)
			}
		}
		for _, values := range []bool{false, true} {
			seq := c.Iter(ctx, p)
			if values {
				seq = c.IterValues(ctx, p)
			}
			var got []string
			for e, err := range seq {
				if err != nil {
					t.Fatalf("prefix %q: %v", p, err)
				}
				if values && e.Value.Type() != e.Type || !values && !e.Value.IsZero() || e.Len == 0 {
					t.Errorf("prefix %q: %s: type %v, value %#v, len %d", p, e.Key, e.Type, e.Value, e.Len)
				}
				got = append(got, e.Key)
			}
			if !slices.Equal(got, want) {
				t.Errorf("prefix %q (values %v):\n got %v\nwant %v", p, values, got, want)
			}
		}
		if len(inside) > 0 {
			t.Fatalf("prefix %q: ITER_NEXT returned %v", p, inside)
		}
	}
	// A break inside the walk stops it.
	n := 0
	for _, err := range c.Iter(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
}

// BenchmarkIterWholeMap measures Iter("") on a real daemon against one
// daemon iterator over the same map (what Iter does on 3.x): on corosync
// 2.x (COROSYNC_GO_DAEMON=2.4.6) the ratio is the cost of walking around
// runtime.connections. (the one-iterator walk is safe only because
// nothing connects meanwhile).
func BenchmarkIterWholeMap(b *testing.B) {
	cl := corotest.Start(b, 1, corotest.Options{})
	c := dial(b, cl.Nodes[0])
	ctx := ctxT(b, 10*time.Minute)
	count := func(seq iter.Seq2[cmap.Entry, error]) int {
		n := 0
		for _, err := range seq {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		return n
	}
	b.Run("Iter", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n = count(c.Iter(ctx, ""))
		}
		b.ReportMetric(float64(n), "keys")
	})
	b.Run("OneIterator", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n = count(cmap.IterUnguarded(c, ctx, ""))
		}
		b.ReportMetric(float64(n), "keys")
	})
}

// TestIterValuesValueGrows checks that IterValues reads a value that grew
// between its ITER_NEXT and its GET (the GET offering ITER_NEXT's length
// is refused, and the full GET reads it), on the mock, which answers short
// buffers as icmap does.
func TestIterValuesValueGrows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := mock.NewCluster(1).Node(1)
	c, err := cmap.Dial(ctx, client.WithDialer(node))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := cmap.Dial(ctx, client.WithDialer(node))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	long := strings.Repeat("y", 1000)
	for _, k := range []string{"grow.a", "grow.b", "grow.c"} {
		if err := c.SetString(ctx, k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetBinary(ctx, "grow.d", nil); err != nil {
		t.Fatal(err)
	}
	cmap.SetTestHookNext(func(key string) {
		if key == "grow.b" {
			if err := other.SetString(ctx, key, long); err != nil {
				t.Error(err)
			}
		}
	})
	defer cmap.SetTestHookNext(nil)
	got := map[string]string{}
	for e, err := range c.IterValues(ctx, "grow.") {
		if err != nil {
			t.Fatal(err)
		}
		got[e.Key] = e.Value.String()
	}
	if got["grow.a"] != "x" || got["grow.b"] != long || got["grow.c"] != "x" || got["grow.d"] != "" || len(got) != 4 {
		t.Fatalf("IterValues: %v", got)
	}
}
