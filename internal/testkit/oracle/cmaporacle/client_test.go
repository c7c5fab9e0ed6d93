//go:build oracle

package cmaporacle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sort"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

func dialClient(t testing.TB, node *corotest.Node, opts ...client.Option) *cmap.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cmap.Dial(ctx, append([]client.Option{client.WithDialer(node.Dialer())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClientGetMatchesLibcmap reads every key of the map through the
// public client's Get and through C cmap_get in the same run, and compares
// the whole iteration (IterValues against libcmap's iteration and GETs).
func TestClientGetMatchesLibcmap(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	o, err := Open(node.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Finalize()
	setTestKeys(t, o)
	c := dialClient(t, node)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	theirs, err := o.All("")
	if err != nil {
		t.Fatal(err)
	}
	var ours []cmap.Entry
	for e, err := range c.IterValues(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, e)
	}
	if len(ours) != len(theirs) {
		t.Fatalf("ours %d keys, libcmap %d", len(ours), len(theirs))
	}
	moved := 0
	for i, e := range ours {
		w := theirs[i]
		if e.Key != w.Key || uint8(e.Value.Type()) != uint8(w.Value.Type()) {
			t.Fatalf("key %d: ours %s %s, libcmap %s %s", i, e.Key, e.Value.Type(), w.Key, w.Value.Type())
		}
		// Get, key by key, right after C's cmap_get of the same key.
		cv, cerr := o.Get(e.Key)
		gv, gerr := c.Get(ctx, e.Key)
		if cerr != nil || gerr != nil {
			t.Fatalf("%s: ours %v, libcmap %v", e.Key, gerr, cerr)
		}
		if !same(gv, cv) {
			if volatile(e.Key) {
				moved++
				continue
			}
			t.Errorf("%s: ours %#v, libcmap %#v", e.Key, gv, cv)
		}
		if !same(e.Value, w.Value) && !volatile(e.Key) {
			t.Errorf("%s: iteration ours %#v, libcmap %#v", e.Key, e.Value, w.Value)
		}
	}
	// Errors: the same code for a missing key.
	_, cerr := o.Get("no.such.key")
	_, gerr := c.Get(ctx, "no.such.key")
	if cerr == nil || gerr == nil || !errors.Is(gerr, cerr) {
		t.Errorf("missing key: ours %v, libcmap %v", gerr, cerr)
	}
	t.Logf("%d keys: Get and iteration equal to libcmap's (%d counters moved)", len(ours), moved)
}

// TestClientEventsMatchLibcmap tracks the same prefix through the public
// client and through libcmap while both make changes, and compares the
// events.
func TestClientEventsMatchLibcmap(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	o, err := Open(node.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Finalize()
	all := cmapwire.TrackAdd | cmapwire.TrackDelete | cmapwire.TrackModify | cmapwire.TrackPrefix
	if _, err := o.TrackAdd("ev.", all); err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, node)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := c.Track(ctx, "ev.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(64))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	exact, err := c.Track(ctx, "ev.a", cmap.TrackModify|cmap.TrackDelete, dispatch.Queue(64))
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()
	steps := []func() error{
		func() error { return c.SetUint32(ctx, "ev.a", 1) },
		func() error { return o.Inc("ev.a") },
		func() error { return c.Dec(ctx, "ev.a") },
		func() error { return o.Set("ev.a", cmapwire.String("x")) },
		func() error { return c.SetBinary(ctx, "ev.b", nil) },
		func() error { return c.SetDouble(ctx, "ev.b", -0.5) },
		func() error { return o.Delete("ev.a") },
		func() error { return c.Delete(ctx, "ev.b") },
		func() error { return node.Cmap(ctx, "-s", "ev.c", "i16", "1234") },
		func() error { return node.Cmap(ctx, "-d", "ev.c") },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want, err := o.WaitEvents(ctx, len(steps))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(steps) {
		t.Fatalf("libcmap saw %d events for %d changes", len(want), len(steps))
	}
	kinds := map[cmapwire.TrackFlags]corosync.EventKind{cmapwire.TrackAdd: corosync.EventAdd, cmapwire.TrackDelete: corosync.EventDelete, cmapwire.TrackModify: corosync.EventModify}
	var wantExact []Event
	for i, w := range want {
		ev, err := tr.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Kind != kinds[w.Event] || ev.Key != w.Key || !same(ev.New, w.New) || !same(ev.Old, w.Old) {
			t.Errorf("event %d: ours %v, libcmap %s %s %#v -> %#v", i, ev, w.Event, w.Key, w.Old, w.New)
		}
		if w.Key == "ev.a" && w.Event != cmapwire.TrackAdd {
			wantExact = append(wantExact, w)
		}
	}
	for i, w := range wantExact {
		ev, err := exact.Next(ctx)
		if err != nil {
			t.Fatalf("exact event %d: %v", i, err)
		}
		if ev.Kind != kinds[w.Event] || ev.Key != w.Key || !same(ev.New, w.New) || !same(ev.Old, w.Old) {
			t.Errorf("exact event %d: ours %v, libcmap %s %s %#v -> %#v", i, ev, w.Event, w.Key, w.Old, w.New)
		}
	}
	t.Logf("%d prefix and %d exact events equal to libcmap's", len(want), len(wantExact))
}

func p50(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func runLat(b *testing.B, warm int, f func() error) {
	for i := 0; i < warm; i++ {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	p50(b, lat)
}

// BenchmarkGet measures one cmap GET of a string key through the public
// client and through C cmap_get against the same daemon, in one run.
func BenchmarkGet(b *testing.B) {
	cl := corotest.Start(b, 1, corotest.Options{})
	node := cl.Nodes[0]
	ctx := context.Background()
	c := dialClient(b, node)
	o, err := Open(node.NetNSPath())
	if err != nil {
		b.Fatal(err)
	}
	defer o.Finalize()
	const key = "totem.cluster_name"
	b.Run("libcmap-first", func(b *testing.B) { runLat(b, 100, func() error { _, err := o.Get(key); return err }) })
	b.Run("go", func(b *testing.B) { runLat(b, 100, func() error { _, err := c.Get(ctx, key); return err }) })
	b.Run("libcmap", func(b *testing.B) { runLat(b, 100, func() error { _, err := o.Get(key); return err }) })
}

// BenchmarkIterateAll measures reading the whole map, keys and values:
// the public client's IterValues (go, and go-again after the C runs)
// against running corosync-cmapctl (what programs do today) and against C
// libcmap's iteration and GETs, with a full buffer per GET (libcmap) and
// with the length cmap_iter_next reported (libcmap-exact, as
// corosync-cmapctl does).
func BenchmarkIterateAll(b *testing.B) {
	cl := corotest.Start(b, 1, corotest.Options{})
	node := cl.Nodes[0]
	ctx := context.Background()
	c := dialClient(b, node)
	o, err := Open(node.NetNSPath())
	if err != nil {
		b.Fatal(err)
	}
	defer o.Finalize()
	keys := 0
	b.Run("go", func(b *testing.B) {
		runLat(b, 10, func() error {
			keys = 0
			for _, err := range c.IterValues(ctx, "") {
				if err != nil {
					return err
				}
				keys++
			}
			return nil
		})
		b.ReportMetric(float64(keys), "keys")
	})
	b.Run("go-keys-only", func(b *testing.B) {
		runLat(b, 10, func() error {
			for _, err := range c.Iter(ctx, "") {
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run("libcmap", func(b *testing.B) {
		runLat(b, 10, func() error { _, err := o.All(""); return err })
	})
	b.Run("libcmap-exact", func(b *testing.B) {
		runLat(b, 10, func() error { _, err := o.AllExact(""); return err })
	})
	b.Run("go-again", func(b *testing.B) {
		runLat(b, 10, func() error {
			for _, err := range c.IterValues(ctx, "") {
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run("corosync-cmapctl", func(b *testing.B) {
		runLat(b, 2, func() error { _, err := node.Exec(ctx, "corosync-cmapctl"); return err })
	})
}

// same reports whether our value and the C library's have the same type
// and bytes.
func same(ours cmap.Value, c cmapwire.Value) bool {
	return uint8(ours.Type()) == uint8(c.Type()) && bytes.Equal(ours.Bytes(), c.Bytes())
}

// BenchmarkIterateAllPaired reads the whole map, keys and values, with the
// public client's IterValues and with C libcmap's iterate-and-get (full
// buffer, and the length cmap_iter_next reported), the three back to back
// in each iteration, in a rotating order, so that load on the machine hits
// them alike. It reports each one's median and the medians of the per-
// iteration ratios go/libcmap and go/libcmap-exact. COROSYNC_GO_BENCH_PREFIX
// sets the prefix iterated (default "", the whole map; on corosync 2.x the
// Go client walks "" around runtime.connections., so compare a prefix
// such as "totem." there).
func BenchmarkIterateAllPaired(b *testing.B) {
	prefix := os.Getenv("COROSYNC_GO_BENCH_PREFIX")
	cl := corotest.Start(b, 1, corotest.Options{})
	node := cl.Nodes[0]
	ctx := context.Background()
	c := dialClient(b, node)
	o, err := Open(node.NetNSPath())
	if err != nil {
		b.Fatal(err)
	}
	defer o.Finalize()
	runs := []func() error{
		func() error {
			for _, err := range c.IterValues(ctx, prefix) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		func() error { _, err := o.All(prefix); return err },
		func() error { _, err := o.AllExact(prefix); return err },
	}
	lat := make([][]time.Duration, len(runs))
	for i := 0; i < 10; i++ { // warm up
		for _, f := range runs {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
	}
	var full, exact []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var d [3]time.Duration
		for k := range runs {
			j := (i + k) % len(runs)
			t0 := time.Now()
			if err := runs[j](); err != nil {
				b.Fatal(err)
			}
			d[j] = time.Since(t0)
			lat[j] = append(lat[j], d[j])
		}
		full = append(full, float64(d[0])/float64(d[1]))
		exact = append(exact, float64(d[0])/float64(d[2]))
	}
	b.StopTimer()
	for j, name := range []string{"go", "libcmap", "libcmap-exact"} {
		sort.Slice(lat[j], func(x, y int) bool { return lat[j][x] < lat[j][y] })
		b.ReportMetric(float64(lat[j][len(lat[j])/2].Microseconds()), name+"-p50-µs")
	}
	sort.Float64s(full)
	sort.Float64s(exact)
	b.ReportMetric(full[len(full)/2], "go/libcmap")
	b.ReportMetric(exact[len(exact)/2], "go/libcmap-exact")
}
