package mock_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
)

// What the mock's cmap deliberately does not model. Keys under these
// prefixes are left out of the comparison; everything else of the real
// daemon's maps must exist in the mock with the same type.
var (
	// icmap: test-harness paths and logging setup of corotest's
	// corosync.conf, not cluster state.
	cmapNotModelled = []string{"logging.", "system."}
	// stats map: per-connection IPC statistics (their names hold a pid and
	// a pointer) and scheduling misses (only after a stall).
	statsNotModelled = []string{"stats.ipcs.service", "stats.schedmiss."}
)

// Keys whose values differ by design or move by themselves: the mock's
// cluster name, message counters. Their names and types are compared.
func cmapValueExcluded(key string) bool {
	return key == "totem.cluster_name" || strings.HasPrefix(key, "runtime.services.") && !strings.HasSuffix(key, ".service_id")
}

type cmapEntry struct{ typ, text string }

func cmapRead(t *testing.T, ctx context.Context, c *cmap.Client, skip []string) map[string]cmapEntry {
	t.Helper()
	out := map[string]cmapEntry{}
	for e, err := range c.IterValues(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(e.Key, p) }) {
			continue
		}
		out[e.Key] = cmapEntry{e.Value.Type().String(), e.Value.String()}
	}
	return out
}

// compareMaps reports every key of real missing in mock or of another
// type, every key of mock real lacks, and (withValues) differing values.
func compareMaps(t *testing.T, what string, real, fake map[string]cmapEntry, withValues bool) {
	t.Helper()
	var diffs []string
	for k, r := range real {
		f, ok := fake[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing in mock: %s (%s) = %s", k, r.typ, r.text))
		case f.typ != r.typ:
			diffs = append(diffs, fmt.Sprintf("type of %s: real %s, mock %s", k, r.typ, f.typ))
		case withValues && !cmapValueExcluded(k) && f.text != r.text:
			diffs = append(diffs, fmt.Sprintf("value of %s: real %q, mock %q", k, r.text, f.text))
		}
	}
	for k, f := range fake {
		if _, ok := real[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("only in mock: %s (%s) = %s", k, f.typ, f.text))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s: %d differences:\n%s", what, len(diffs), strings.Join(diffs, "\n"))
	}
}

// membership reads runtime.members.* and runtime.votequorum.*.
func membership(t *testing.T, ctx context.Context, c *cmap.Client) []string {
	var out []string
	for _, p := range []string{"runtime.members.", "runtime.votequorum."} {
		for e, err := range c.IterValues(ctx, p) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s (%s) = %s", e.Key, e.Value.Type(), e.Value.String()))
		}
	}
	return out
}

func changes(tr *cmap.Track) []string {
	var out []string
	for _, ev := range tr.Drain() {
		if strings.HasPrefix(ev.Key, "runtime.services.") {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s -> %s", ev.Kind, ev.Key, ev.Old.GoString(), ev.New.GoString()))
	}
	return out
}

// The mock's cmap has the real daemon's keys with the same types, for the
// same 3-node cluster (names nodeN, ring0_addr 192.0.2.N), in both maps;
// and runtime.members.* / runtime.votequorum.* change, with the same track
// events, through kill, start, partition and heal.
func TestCmapMockEqualsReal(t *testing.T) {
	real := corotest.Start(t, 3, corotest.Options{})
	fake := mock.NewCluster(3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dial := func(d client.Option, opts ...client.Option) *cmap.Client {
		c, err := cmap.Dial(ctx, append([]client.Option{d}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	rd, fd := client.WithDialer(real.Node(1).Dialer()), client.WithDialer(fake.Node(1))
	rc, fc := dial(rd), dial(fd)
	compareMaps(t, "icmap", cmapRead(t, ctx, rc, cmapNotModelled), cmapRead(t, ctx, fc, cmapNotModelled), true)
	compareMaps(t, "stats map", cmapRead(t, ctx, dial(rd, cmap.WithMap(cmap.MapStats)), statsNotModelled),
		cmapRead(t, ctx, dial(fd, cmap.WithMap(cmap.MapStats)), statsNotModelled), false)

	rt, err := rc.Track(ctx, "runtime.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(100000))
	if err != nil {
		t.Fatal(err)
	}
	ft, err := fc.Track(ctx, "runtime.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(1000))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		real    func() error
		fake    func()
		members []uint32 // node 1's membership after the step
	}{
		{"kill 3", real.Node(3).Kill, func() { fake.Kill(3) }, []uint32{1, 2}},
		{"start 3", real.Node(3).Start, func() { fake.Start(3) }, []uint32{1, 2, 3}},
		{"partition 12|3", func() error { return real.Split([]uint32{1, 2}, []uint32{3}) }, func() { fake.Partition([]uint32{1, 2}, []uint32{3}) }, []uint32{1, 2}},
		{"heal", real.Heal, fake.Heal, []uint32{1, 2, 3}},
		{"partition 1|23", func() error { return real.Split([]uint32{1}, []uint32{2, 3}) }, func() { fake.Partition([]uint32{1}, []uint32{2, 3}) }, []uint32{1}},
		{"heal again", real.Heal, fake.Heal, []uint32{1, 2, 3}},
		{"stop 2", real.Node(2).Stop, func() { fake.Stop(2) }, []uint32{1, 3}},
	}
	for _, s := range steps {
		if err := s.real(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		s.fake()
		if len(s.members) == 3 {
			if err := real.WaitFormed(60 * time.Second); err != nil {
				t.Fatal(err)
			}
		} else if err := real.Node(1).WaitMembers(ctx, s.members...); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // votequorum and cmap sync settle after the new ring
		if r, f := membership(t, ctx, rc), membership(t, ctx, fc); !slices.Equal(r, f) {
			t.Errorf("%s: runtime keys differ:\nreal\n%s\nmock\n%s", s.name, strings.Join(r, "\n"), strings.Join(f, "\n"))
		}
		if r, f := changes(rt), changes(ft); !slices.Equal(r, f) {
			t.Errorf("%s: track events differ:\nreal\n%s\nmock\n%s", s.name, strings.Join(r, "\n"), strings.Join(f, "\n"))
		}
	}
}
