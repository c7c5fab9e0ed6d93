package mock_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
)

func dialCmap(t *testing.T, n *mock.Node, opts ...client.Option) *cmap.Client {
	t.Helper()
	c, err := cmap.Dial(ctxT(t), append([]client.Option{client.WithDialer(n), client.WithoutReconnect()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keysOf lists "key (type) = text" for every key under prefix.
func keysOf(t *testing.T, c *cmap.Client, prefix string) []string {
	t.Helper()
	var out []string
	for e, err := range c.IterValues(ctxT(t), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s (%s) = %s", e.Key, e.Value.Type(), e.Value.String()))
	}
	return out
}

// drain returns the changes a track has delivered within d, as text.
func drain(tr *cmap.Track, d time.Duration) []string {
	time.Sleep(d)
	var out []string
	for _, ev := range tr.Drain() {
		out = append(out, fmt.Sprintf("%s %s %s -> %s", ev.Kind, ev.Key, ev.Old.GoString(), ev.New.GoString()))
	}
	return out
}

// The configuration and runtime keys of a mock node, and the answers to
// the basic requests.
func TestCmapBasics(t *testing.T) {
	cl := mock.NewCluster(3)
	c := dialCmap(t, cl.Node(2), cmap.WithDaemonKeyWrites()) // the daemon's answers for runtime.* keys
	ctx := ctxT(t)
	if name, err := c.GetString(ctx, "totem.cluster_name"); err != nil || name != mock.MockClusterName {
		t.Fatalf("cluster_name %q %v", name, err)
	}
	if pos, err := c.GetUint32(ctx, "nodelist.local_node_pos"); err != nil || pos != 1 {
		t.Fatalf("local_node_pos %d %v", pos, err)
	}
	want := []string{
		"runtime.members.1.config_version (u64) = 0", "runtime.members.1.ip (str) = r(0) ip(192.0.2.1) ",
		"runtime.members.1.join_count (u32) = 1", "runtime.members.1.status (str) = joined",
	}
	if got := keysOf(t, c, "runtime.members.1."); !slices.Equal(got, want) {
		t.Fatalf("members:\n%s", strings.Join(got, "\n"))
	}
	for key, want := range map[string]uint32{"runtime.votequorum.this_node_id": 2, "runtime.votequorum.lowest_node_id": 1,
		"runtime.votequorum.highest_node_id": 3, "runtime.votequorum.ev_barrier": 3} {
		if v, err := c.GetUint32(ctx, key); err != nil || v != want {
			t.Errorf("%s = %d %v, want %d", key, v, err, want)
		}
	}
	// Read-only keys, missing keys, wrong types.
	for _, key := range []string{"totem.cluster_name", "nodelist.node.0.name", "runtime.config.totem.token", "nodelist.local_node_pos"} {
		if err := c.SetString(ctx, key, "x"); !errors.Is(err, corosync.ErrAccess) {
			t.Errorf("set %s: %v", key, err)
		}
		if err := c.Delete(ctx, key); !errors.Is(err, corosync.ErrAccess) {
			t.Errorf("delete %s: %v", key, err)
		}
	}
	if err := c.SetUint8(ctx, "runtime.votequorum.two_node", 0); err != nil {
		t.Errorf("two_node is writable: %v", err)
	}
	if _, err := c.Get(ctx, "no.such.key"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("get missing: %v", err)
	}
	if err := c.Delete(ctx, "no.such.key"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("delete missing: %v", err)
	}
	if err := c.Inc(ctx, "no.such.key"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("inc missing: %v", err)
	}
	if err := c.Inc(ctx, "totem.token"); err != nil {
		t.Errorf("inc totem.token: %v", err)
	}
	if v, _ := c.GetUint32(ctx, "totem.token"); v != 1001 {
		t.Errorf("totem.token after inc = %d", v)
	}
	if err := c.SetUint8(ctx, "test.u8", 255); err != nil {
		t.Fatal(err)
	}
	c.Inc(ctx, "test.u8")
	if v, _ := c.GetUint8(ctx, "test.u8"); v != 0 {
		t.Errorf("u8 255+1 = %d, want 0 (wrap)", v)
	}
	c.SetString(ctx, "test.s", "abc")
	if err := c.Inc(ctx, "test.s"); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("inc a string: %v", err)
	}
	if v, err := c.GetString(ctx, "test.s"); err != nil || v != "abc" {
		t.Errorf("string %q %v", v, err)
	}
	if _, err := c.GetUint32(ctx, "test.s"); !errors.As(err, new(*cmap.TypeError)) {
		t.Errorf("u32 of a string: %v", err)
	}
	// Values of every type round-trip; a key changes type.
	for _, v := range []cmap.Value{cmap.Int8(-1), cmap.Uint16(7), cmap.Int64(-5), cmap.Double(2.5), cmap.Float(1.5), cmap.Binary([]byte{0, 1, 2}), cmap.Binary(nil), cmap.String("")} {
		if err := c.Set(ctx, "test.any", v); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Get(ctx, "test.any"); err != nil || !got.Equal(v) {
			t.Errorf("round trip %#v: %#v %v", v, got, err)
		}
	}
	// Iteration: order, prefix, an empty prefix.
	var n int
	prev := ""
	for e, err := range c.Iter(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Key <= prev {
			t.Fatalf("iteration order: %q after %q", e.Key, prev)
		}
		prev = e.Key
		n++
	}
	if n < 100 {
		t.Errorf("only %d keys", n)
	}
	if got := keysOf(t, c, "zzz."); len(got) != 0 {
		t.Errorf("empty prefix %v", got)
	}
}

// Tracks see add, modify and delete, with old and new values, in order;
// setting the same value again notifies nobody.
func TestCmapTrack(t *testing.T) {
	cl := mock.NewCluster(1)
	c := dialCmap(t, cl.Node(1))
	ctx := ctxT(t)
	all, err := c.Track(ctx, "test.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(64))
	if err != nil {
		t.Fatal(err)
	}
	onlyDel, err := c.Track(ctx, "test.a", cmap.TrackDelete, dispatch.Queue(64))
	if err != nil {
		t.Fatal(err)
	}
	c.SetUint32(ctx, "test.a", 1)
	c.SetUint32(ctx, "test.a", 1)
	c.SetString(ctx, "test.a", "x")
	c.Inc(ctx, "test.b") // missing: nothing
	c.SetUint64(ctx, "test.b", 7)
	c.Dec(ctx, "test.b")
	c.Delete(ctx, "test.a")
	c.SetUint32(ctx, "other.key", 1)
	want := []string{
		`add test.a none() -> u32(1)`,
		`modify test.a u32(1) -> str("x")`,
		`add test.b none() -> u64(7)`,
		`modify test.b u64(7) -> u64(6)`,
		`delete test.a str("x") -> none()`,
	}
	if got := drain(all, 50*time.Millisecond); !slices.Equal(got, want) {
		t.Fatalf("prefix track:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := drain(onlyDel, 0); len(got) != 1 || !strings.HasPrefix(got[0], "delete test.a") {
		t.Fatalf("exact delete track: %v", got)
	}
}

// runtime.members.* and runtime.votequorum.* follow kill, start,
// partition and heal as on corosync 3.1.7 (compare TestCmapMockEqualsReal),
// and a restarted node's map is rebuilt.
func TestCmapMembership(t *testing.T) {
	cl := mock.NewCluster(3)
	c := dialCmap(t, cl.Node(1))
	ctx := ctxT(t)
	tr, err := c.Track(ctx, "runtime.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(256))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"kill 3", func() { cl.Kill(3) }, []string{
			`modify runtime.members.3.status str("joined") -> str("left")`,
			`modify runtime.votequorum.highest_node_id u32(3) -> u32(2)`,
		}},
		{"start 3", func() { cl.Start(3) }, []string{
			`modify runtime.members.3.join_count u32(1) -> u32(2)`,
			`modify runtime.members.3.status str("left") -> str("joined")`,
			`modify runtime.votequorum.highest_node_id u32(2) -> u32(3)`,
		}},
		{"partition 1|23", func() { cl.Partition([]uint32{1}, []uint32{2, 3}) }, []string{
			`modify runtime.members.2.status str("joined") -> str("left")`,
			`modify runtime.members.3.status str("joined") -> str("left")`,
		}},
		{"heal", func() { cl.Heal() }, []string{
			`modify runtime.members.2.join_count u32(1) -> u32(2)`,
			`modify runtime.members.2.status str("left") -> str("joined")`,
			`modify runtime.members.3.join_count u32(2) -> u32(3)`,
			`modify runtime.members.3.status str("left") -> str("joined")`,
			`modify runtime.votequorum.highest_node_id u32(3) -> u32(2)`,
			`modify runtime.votequorum.highest_node_id u32(2) -> u32(3)`,
		}},
	}
	for _, s := range steps {
		s.do()
		if got := drain(tr, 20*time.Millisecond); !slices.Equal(got, s.want) {
			t.Fatalf("%s:\n%s\nwant\n%s", s.name, strings.Join(got, "\n"), strings.Join(s.want, "\n"))
		}
	}
	// A restarted node forgets what clients set and what it saw.
	c2 := dialCmap(t, cl.Node(2))
	c2.SetString(ctx, "test.mine", "x")
	cl.Kill(3)
	cl.Restart(2)
	c2 = dialCmap(t, cl.Node(2))
	if _, err := c2.Get(ctx, "test.mine"); !errors.Is(err, corosync.ErrNotExist) {
		t.Fatalf("restarted node kept a client's key: %v", err)
	}
	if got := keysOf(t, c2, "runtime.members.3."); len(got) != 0 {
		t.Fatalf("restarted node knows node 3: %v", got)
	}
	tr2, err := c2.Track(ctx, "runtime.members.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(64))
	if err != nil {
		t.Fatal(err)
	}
	cl.Start(3)
	want := []string{
		`add runtime.members.3.ip none() -> str("r(0) ip(192.0.2.3) ")`,
		`add runtime.members.3.join_count none() -> u32(1)`,
		`add runtime.members.3.status none() -> str("joined")`,
		`add runtime.members.3.config_version none() -> u64(0)`,
	}
	if got := drain(tr2, 20*time.Millisecond); !slices.Equal(got, want) {
		t.Fatalf("first join of node 3:\n%s", strings.Join(got, "\n"))
	}
}

// The stats map: the counters' names and types, read-only but for
// stats.clear.*, trackers as the daemon accepts them.
func TestCmapStats(t *testing.T) {
	cl := mock.NewCluster(2)
	c := dialCmap(t, cl.Node(1), cmap.WithMap(cmap.MapStats), cmap.WithDaemonKeyWrites())
	ctx := ctxT(t)
	if v, err := c.GetUint8(ctx, "stats.knet.node2.link0.connected"); err != nil || v != 1 {
		t.Fatalf("node2 connected %d %v", v, err)
	}
	cl.Kill(2)
	if v, _ := c.GetUint8(ctx, "stats.knet.node2.link0.connected"); v != 0 {
		t.Fatalf("dead node2 connected %d", v)
	}
	if _, err := c.Get(ctx, "totem.cluster_name"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("icmap key on stats: %v", err)
	}
	if err := c.SetUint64(ctx, "stats.srp.orf_token_tx", 1); !errors.Is(err, corosync.ErrAccess) {
		t.Errorf("set a counter: %v", err)
	}
	if err := c.SetUint8(ctx, "stats.clear.all", 1); err != nil {
		t.Errorf("clear all: %v", err)
	}
	if err := c.SetUint8(ctx, "stats.clear.bogus", 1); !errors.Is(err, corosync.ErrNotSupported) {
		t.Errorf("clear bogus: %v", err)
	}
	if err := c.Delete(ctx, "stats.clear.all"); !errors.Is(err, corosync.ErrNotSupported) {
		t.Errorf("delete clear: %v", err)
	}
	if _, err := c.Track(ctx, "stats.", cmap.TrackAdd|cmap.TrackPrefix); !errors.Is(err, corosync.ErrNotSupported) {
		t.Errorf("prefix add-only track on stats: %v", err)
	}
	tr, err := c.Track(ctx, "stats.srp.orf_token_tx", cmap.TrackModify)
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if n := len(keysOf(t, c, "stats.")); n < 100 {
		t.Errorf("%d stats keys", n)
	}
}
