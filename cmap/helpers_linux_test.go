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
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, n *corotest.Node, opts ...client.Option) *cmap.Client {
	t.Helper()
	c, err := cmap.Dial(ctxT(t, 10*time.Second), append([]client.Option{client.WithDialer(n.Dialer()), fast}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type textEntry struct {
	key, typ, text string
}

// cmapctl runs corosync-cmapctl on node and parses its lines.
func cmapctl(t testing.TB, node *corotest.Node, args ...string) []textEntry {
	t.Helper()
	var res []textEntry
	for _, l := range node.Cmapctl(t, args...) {
		res = append(res, textEntry{l.Key, l.Type, l.Text})
	}
	return res
}

// volatile reports keys whose values move between reads on an idle node.
func volatile(key string) bool { return corotest.CmapVolatile(key) }

// checkVersion fails t unless c took its daemon for the release line that
// node runs, and returns that line.
func checkVersion(t testing.TB, c *cmap.Client, node *corotest.Node) corosync.Version {
	t.Helper()
	want := node.Daemon().ReleaseLine()
	if v := c.DaemonVersion(); v != want {
		t.Fatalf("%s: DaemonVersion %v, want %v", node.Daemon(), v, want)
	}
	return want
}

// membersPrefix is where the daemon keeps its membership in the main map:
// runtime.members. since 3.0, runtime.totem.pg.mrp.srp.members. in 2.x.
func membersPrefix(v corosync.Version) string {
	if v == corosync.Version2_4 {
		return "runtime.totem.pg.mrp.srp.members."
	}
	return "runtime.members."
}

// Statistics of corosync 2.x, which has no stats map: its main map holds
// one entry per IPC connection (runtime.connections.<name>:<pid>:<ptr>.*,
// made at connect, removed at disconnect) and totem's counters
// (runtime.totem.pg.*). A timer refreshes both every 1.5 s, and the first
// refresh, 1.5 s after start, adds most of totem's keys (exec/main.c,
// corosync_totem_stats_updater).
const (
	connPrefix2x  = "runtime.connections."
	totemStats2x  = "runtime.totem.pg."
	refreshed2x   = "runtime.totem.pg.mrp.srp.orf_token_tx"
	schedmissPre  = "runtime.schedmiss."
	members2x     = "runtime.totem.pg.mrp.srp.members."
	connActive2x  = "runtime.connections.active"
	toolConnName  = "corosync-cmapct" // corosync-cmapctl's comm, as 2.x records it
	toolConnStart = toolConnName + ":"
)

// connKey splits a 2.x per-connection key into its connection
// ("<name>:<pid>:<ptr>"; the name may hold dots) and field.
func connKey(key string) (conn, field string, ok bool) {
	rest, ok := strings.CutPrefix(key, connPrefix2x)
	i := strings.LastIndexByte(rest, '.')
	if !ok || i < 0 || !strings.Contains(rest[:i], ":") {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// volatile2x reports 2.x main-map keys whose values the stats refresh
// moves between two reads of an idle daemon: totem's counters (not the
// membership) and each connection's counters (not its name, pid or
// service).
func volatile2x(key string) bool {
	if strings.HasPrefix(key, totemStats2x) {
		return !strings.HasPrefix(key, members2x)
	}
	if strings.HasPrefix(key, schedmissPre) {
		return true
	}
	_, field, ok := connKey(key)
	return ok && field != "name" && field != "client_pid" && field != "service_id"
}

// waitRefreshed2x waits until corosync 2.x has refreshed its statistics
// once, so that no refresh adds keys between two reads of the map.
func waitRefreshed2x(t testing.TB, ctx context.Context, c *cmap.Client) {
	t.Helper()
	for {
		_, err := c.GetUint64(ctx, refreshed2x)
		if err == nil {
			return
		}
		if !errors.Is(err, corosync.ErrNotExist) {
			t.Fatalf("waiting for the 2.x stats refresh: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s: %v", refreshed2x, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
