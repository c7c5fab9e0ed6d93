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
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

// fast is the backoff of the package's tests.
var fast = client.WithBackoff(corosync.Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2})

// TestDaemonKeyWritesMock runs checkDaemonKeyWrites against package mock.
func TestDaemonKeyWritesMock(t *testing.T) {
	checkDaemonKeyWrites(t, mock.NewCluster(1).Node(1), true)
}

// checkDaemonKeyWrites checks that every write to runtime.votequorum.this_node_id
// (and, with stats, to the stats map) is refused without
// WithDaemonKeyWrites, naming the key and the option, and leaves the daemon's
// value as it was; that the opt-in writes it; and that other keys need no
// opt-in.
func checkDaemonKeyWrites(t *testing.T, d transport.Dialer, stats bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(opts ...client.Option) *cmap.Client {
		c, err := cmap.Dial(ctx, append([]client.Option{client.WithDialer(d), fast}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c, w := open(), open(cmap.WithDaemonKeyWrites())
	const key = "runtime.votequorum.this_node_id"
	before, err := c.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := before.Uint()
	if err != nil {
		t.Fatal(err)
	}
	refused := func(op string, err error, m cmap.Map, key string) {
		t.Helper()
		var de *cmap.DaemonKeyError
		if !errors.As(err, &de) || de.Op != op || de.Key != key || de.Map != m || !errors.Is(err, corosync.ErrAccess) ||
			!strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "cmap.WithDaemonKeyWrites()") {
			t.Errorf("%s %s without the opt-in: %v, want a *DaemonKeyError", op, key, err)
		}
	}
	refused("set", c.SetUint32(ctx, key, uint32(id)+100), cmap.MapICMap, key)
	refused("set", c.Set(ctx, key, cmap.String("x")), cmap.MapICMap, key)
	refused("delete", c.Delete(ctx, key), cmap.MapICMap, key)
	refused("inc", c.Inc(ctx, key), cmap.MapICMap, key)
	refused("dec", c.Dec(ctx, key), cmap.MapICMap, key)
	if !cmap.DaemonKey(cmap.MapICMap, key) || cmap.DaemonKey(cmap.MapICMap, "totem.token") || !cmap.DaemonKey(cmap.MapStats, "stats.clear.all") {
		t.Error("DaemonKey")
	}
	if v, err := c.Get(ctx, key); err != nil || !v.Equal(before) {
		t.Fatalf("after the refused writes %s = %#v %v, was %#v: a write reached the daemon", key, v, err, before)
	}
	// An invalid key is still a *KeyError, checked first.
	var ke *cmap.KeyError
	if err := c.SetUint32(ctx, "runtime.a b", 1); !errors.As(err, &ke) {
		t.Errorf("bad runtime key: %v", err)
	}
	// The opt-in writes it; the value is put back.
	if err := w.SetUint32(ctx, key, uint32(id)+100); err != nil {
		t.Fatalf("set %s with the opt-in: %v", key, err)
	}
	if v, err := c.GetUint(ctx, key); err != nil || v != id+100 {
		t.Errorf("%s after the opted-in set: %d %v, want %d", key, v, err, id+100)
	}
	if err := w.Set(ctx, key, before); err != nil {
		t.Fatal(err)
	}
	// Other keys need no opt-in.
	if err := c.SetUint32(ctx, "test.daemonkey", 1); err != nil {
		t.Errorf("set test.daemonkey: %v", err)
	}
	if err := c.Delete(ctx, "test.daemonkey"); err != nil {
		t.Errorf("delete test.daemonkey: %v", err)
	}
	if !stats {
		return
	}
	st, stw := open(cmap.WithMap(cmap.MapStats)), open(cmap.WithMap(cmap.MapStats), cmap.WithDaemonKeyWrites())
	refused("set", st.SetUint8(ctx, "stats.clear.all", 1), cmap.MapStats, "stats.clear.all")
	refused("inc", st.Inc(ctx, "stats.srp.orf_token_tx"), cmap.MapStats, "stats.srp.orf_token_tx")
	if err := stw.SetUint8(ctx, "stats.clear.all", 1); err != nil {
		t.Errorf("stats.clear.all with the opt-in: %v", err)
	}
}
