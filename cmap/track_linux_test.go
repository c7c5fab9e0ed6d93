package cmap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

func track(t *testing.T, c *cmap.Client, key string, flags cmap.TrackFlags, opts ...dispatch.SubOption) *cmap.Track {
	t.Helper()
	tr, err := c.Track(ctxT(t, 10*time.Second), key, flags, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func next(t *testing.T, tr *cmap.Track) cmap.Event {
	t.Helper()
	ev, err := tr.Next(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("track %s: %v", tr.Key(), err)
	}
	return ev
}

func expect(t *testing.T, tr *cmap.Track, kind corosync.EventKind, key string, newV, oldV cmap.Value) {
	t.Helper()
	ev := next(t, tr)
	if ev.Kind != kind || ev.Key != key || !ev.New.Equal(newV) || !ev.Old.Equal(oldV) || ev.Err != nil {
		t.Fatalf("track %s: got %v, want %v %s %#v -> %#v", tr.Key(), ev, kind, key, oldV, newV)
	}
}

func quiet(t *testing.T, tr *cmap.Track) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	if ev, err := tr.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("track %s: unexpected %v %v", tr.Key(), ev, err)
	}
}

// TestTracks holds several tracks on one client: each sees only its own
// changes, with old and new values, and closing one leaves the others.
func TestTracks(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	c := dial(t, cl.Nodes[0])
	ctx := ctxT(t, 60*time.Second)
	pre := track(t, c, "tr.a.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(64))
	exact := track(t, c, "tr.b.x", cmap.TrackChanges, dispatch.Block(16)) // room for the 10 changes below: a full Block track stalls the others
	adds := track(t, c, "tr.", cmap.TrackAdd|cmap.TrackPrefix, dispatch.Queue(64))
	latest := track(t, c, "tr.b.x", cmap.TrackModify) // latest wins

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.SetUint32(ctx, "tr.a.one", 1))
	must(c.Inc(ctx, "tr.a.one"))
	must(c.SetString(ctx, "tr.a.one", "s"))
	must(c.Delete(ctx, "tr.a.one"))
	must(c.SetBinary(ctx, "tr.b.x", nil))
	must(c.SetDouble(ctx, "tr.b.x", 1.5))
	must(c.SetDouble(ctx, "tr.b.x", 1.5)) // same value: no event
	must(c.Delete(ctx, "tr.b.x"))

	expect(t, pre, corosync.EventAdd, "tr.a.one", cmap.Uint32(1), cmap.Value{})
	expect(t, pre, corosync.EventModify, "tr.a.one", cmap.Uint32(2), cmap.Uint32(1))
	expect(t, pre, corosync.EventModify, "tr.a.one", cmap.String("s"), cmap.Uint32(2))
	expect(t, pre, corosync.EventDelete, "tr.a.one", cmap.Value{}, cmap.String("s"))
	quiet(t, pre)
	expect(t, exact, corosync.EventAdd, "tr.b.x", cmap.Binary(nil), cmap.Value{})
	expect(t, exact, corosync.EventModify, "tr.b.x", cmap.Double(1.5), cmap.Binary(nil))
	expect(t, exact, corosync.EventDelete, "tr.b.x", cmap.Value{}, cmap.Double(1.5))
	quiet(t, exact)
	expect(t, adds, corosync.EventAdd, "tr.a.one", cmap.Uint32(1), cmap.Value{})
	expect(t, adds, corosync.EventAdd, "tr.b.x", cmap.Binary(nil), cmap.Value{})
	quiet(t, adds)
	expect(t, latest, corosync.EventModify, "tr.b.x", cmap.Double(1.5), cmap.Binary(nil))
	quiet(t, latest)

	// Latest wins: a slow reader sees the newest change and how many it missed.
	for i := range 10 {
		must(c.SetUint32(ctx, "tr.b.x", uint32(i)))
	}
	time.Sleep(100 * time.Millisecond)
	ev := next(t, latest)
	if ev.Kind != corosync.EventModify || !ev.New.Equal(cmap.Uint32(9)) || ev.Skipped == 0 {
		t.Fatalf("latest-wins reader got %v", ev)
	}
	t.Logf("latest-wins: %v", ev)
	// The Block reader lost nothing: 1 add and 9 modifies.
	expect(t, exact, corosync.EventAdd, "tr.b.x", cmap.Uint32(0), cmap.Value{})
	for i := 1; i < 10; i++ {
		expect(t, exact, corosync.EventModify, "tr.b.x", cmap.Uint32(uint32(i)), cmap.Uint32(uint32(i-1)))
	}
	expect(t, adds, corosync.EventAdd, "tr.b.x", cmap.Uint32(0), cmap.Value{})

	// Closing one track ends its delivery and leaves the others.
	pre.Close()
	pre.Close()
	if _, err := pre.Next(ctx); !errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := pre.Run(ctx, func(cmap.Event) error { return nil }); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	must(c.SetUint8(ctx, "tr.a.two", 2))
	expect(t, adds, corosync.EventAdd, "tr.a.two", cmap.Uint8(2), cmap.Value{})
	quiet(t, adds)

	// The iterator form.
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.SetUint8(context.Background(), "tr.a.three", 3)
	}()
	for ev, err := range adds.All(ctx) {
		if err != nil || ev.Key != "tr.a.three" {
			t.Fatalf("All: %v %v", ev, err)
		}
		break
	}
	// Client.Close ends every track with CS_ERR_BAD_HANDLE.
	c.Close()
	if _, err := adds.Next(ctx); !errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("Next after client Close: %v", err)
	}
	if _, err := c.Track(ctx, "tr.", cmap.TrackAdd|cmap.TrackPrefix); !errors.Is(err, cmap.ErrClosed) {
		t.Fatalf("Track after Close: %v", err)
	}
	if _, err := c.Get(ctx, "tr.a.two"); !errors.Is(err, cmap.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

// TestTrackRestart kills the daemon under a client with tracks: each
// delivers EventDisconnected, then after the restart EventReconnected, then
// changes again; requests fail during the outage and work after.
func TestTrackRestart(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	c := dial(t, node)
	ctx := ctxT(t, 90*time.Second)
	a := track(t, c, "rs.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(64))
	b := track(t, c, "rs.k", cmap.TrackModify, dispatch.Queue(64))
	if err := c.SetUint32(ctx, "rs.k", 1); err != nil {
		t.Fatal(err)
	}
	expect(t, a, corosync.EventAdd, "rs.k", cmap.Uint32(1), cmap.Value{})
	for round := range 2 {
		if round == 0 {
			node.Kill()
		} else {
			node.Stop()
		}
		for _, tr := range []*cmap.Track{a, b} {
			ev := next(t, tr)
			if ev.Kind != corosync.EventDisconnected || ev.Err == nil {
				t.Fatalf("round %d: track %s got %v", round, tr.Key(), ev)
			}
			t.Logf("round %d: %v", round, ev)
		}
		if _, err := c.Get(ctx, "totem.cluster_name"); !errors.Is(err, cmap.ErrNotConnected) || !errors.Is(err, corosync.ErrLibrary) {
			t.Fatalf("Get during the outage: %v", err)
		}
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		for _, tr := range []*cmap.Track{a, b} {
			if ev := next(t, tr); ev.Kind != corosync.EventReconnected {
				t.Fatalf("round %d: track %s got %v", round, tr.Key(), ev)
			}
		}
		// The restarted daemon has a fresh map: rs.k is gone, unreported.
		if _, err := c.Get(ctx, "rs.k"); !errors.Is(err, corosync.ErrNotExist) {
			t.Fatalf("rs.k after restart: %v", err)
		}
		if err := c.SetUint32(ctx, "rs.k", 10); err != nil {
			t.Fatal(err)
		}
		if err := c.SetUint32(ctx, "rs.k", 11); err != nil {
			t.Fatal(err)
		}
		expect(t, a, corosync.EventAdd, "rs.k", cmap.Uint32(10), cmap.Value{})
		expect(t, a, corosync.EventModify, "rs.k", cmap.Uint32(11), cmap.Uint32(10))
		expect(t, b, corosync.EventModify, "rs.k", cmap.Uint32(11), cmap.Uint32(10))
		if err := c.Delete(ctx, "rs.k"); err != nil {
			t.Fatal(err)
		}
		expect(t, a, corosync.EventDelete, "rs.k", cmap.Value{}, cmap.Uint32(11))
		quiet(t, b)
	}
	// A track made after the restarts works too, and closing one removes
	// only it.
	d := track(t, c, "rs.", cmap.TrackAdd|cmap.TrackPrefix, dispatch.Queue(8))
	b.Close()
	if err := c.SetUint32(ctx, "rs.k", 1); err != nil {
		t.Fatal(err)
	}
	expect(t, a, corosync.EventAdd, "rs.k", cmap.Uint32(1), cmap.Value{})
	expect(t, d, corosync.EventAdd, "rs.k", cmap.Uint32(1), cmap.Value{})
}

// TestTrackNoReconnect: without reconnection the tracks end after
// EventDisconnected with the connection's error.
func TestTrackNoReconnect(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	c := dial(t, node, client.WithoutReconnect())
	a := track(t, c, "nr.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(8))
	node.Kill()
	if ev := next(t, a); ev.Kind != corosync.EventDisconnected {
		t.Fatalf("got %v", ev)
	}
	_, err := a.Next(ctxT(t, 10*time.Second))
	if !errors.Is(err, corosync.ErrLibrary) || !errors.Is(a.Err(), corosync.ErrLibrary) {
		t.Fatalf("terminal error %v / %v", err, a.Err())
	}
}

// TestTrackMembers tracks the membership keys (runtime.members.; in 2.x
// runtime.totem.pg.mrp.srp.members.) on node 1 of a 3-node cluster while
// node 3 is killed and restarted.
func TestTrackMembers(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	n1, n3 := cl.Node(1), cl.Node(3)
	c := dial(t, n1)
	ctx := ctxT(t, 120*time.Second)
	prefix := membersPrefix(checkVersion(t, c, n1))
	tr := track(t, c, prefix, cmap.TrackChanges|cmap.TrackPrefix, dispatch.Queue(256))
	statusKey, joinKey := prefix+"3.status", prefix+"3.join_count"
	status := func() string {
		s, err := c.GetString(ctx, statusKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(); s != "joined" {
		t.Fatalf("node 3 status %q", s)
	}
	// The other release line's place is empty.
	other := "runtime.members."
	if prefix == other {
		other = members2x
	}
	if v, err := c.Get(ctx, other+"3.status"); !errors.Is(err, corosync.ErrNotExist) {
		t.Fatalf("%s3.status on %s: %#v %v, want CS_ERR_NOT_EXIST", other, n1.Daemon(), v, err)
	}
	joins, err := c.GetUint32(ctx, joinKey)
	if err != nil {
		t.Fatal(err)
	}
	// waitFor reads events until key reaches want, checking each event
	// against a GET of the same key afterwards is not possible (it may have
	// moved on), so it checks the chain old -> new instead.
	waitFor := func(key string, want cmap.Value) []cmap.Event {
		t.Helper()
		var seen []cmap.Event
		for {
			ev := next(t, tr)
			seen = append(seen, ev)
			if ev.Kind == corosync.EventAdd || ev.Kind == corosync.EventModify || ev.Kind == corosync.EventDelete {
				if !strings.HasPrefix(ev.Key, prefix) {
					t.Fatalf("event outside the prefix: %v", ev)
				}
			} else {
				t.Fatalf("lifecycle event: %v", ev)
			}
			if ev.Key == key && ev.New.Equal(want) {
				return seen
			}
		}
	}
	n3.Kill()
	seen := waitFor(statusKey, cmap.String("left"))
	for _, ev := range seen {
		t.Logf("kill: %v", ev)
	}
	if s := status(); s != "left" {
		t.Fatalf("status after kill %q", s)
	}
	if e := cmapctl(t, n1, "-g", statusKey); len(e) != 1 || e[0].text != "left" {
		t.Fatalf("corosync-cmapctl: %v", e)
	}
	if err := n3.Start(); err != nil {
		t.Fatal(err)
	}
	seen = waitFor(statusKey, cmap.String("joined"))
	for _, ev := range seen {
		t.Logf("restart: %v", ev)
	}
	// join_count moves with the join; its event may come before or after
	// the status one.
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := c.GetUint32(ctx, joinKey)
		if err != nil {
			t.Fatal(err)
		}
		if j == joins+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("join_count %d, was %d", j, joins)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := n1.WaitMembers(ctx, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
}

// TestCloseWithStuckReader: Client.Close returns although a Block track's
// reader stopped reading and the event pump waits for it.
func TestCloseWithStuckReader(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	c := dial(t, cl.Nodes[0])
	ctx := ctxT(t, 30*time.Second)
	stuck := track(t, c, "st.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.Block(1))
	other := track(t, c, "st.", cmap.TrackAdd|cmap.TrackPrefix, dispatch.Queue(200))
	for i := range 100 {
		if err := c.SetUint32(ctx, "st.k"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1); err != nil {
			t.Fatal(err)
		}
	}
	if ev := next(t, other); ev.Kind != corosync.EventAdd {
		t.Fatalf("got %v", ev)
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs behind a stuck Block reader")
	}
	for range stuck.C() {
	}
	if !errors.Is(stuck.Err(), corosync.ErrBadHandle) {
		t.Fatalf("stuck track ended with %v", stuck.Err())
	}
}
