package cmap_test

import (
	"context"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/corotest"
)

var fast = cmap.WithBackoff(cmap.Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2})

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, n *corotest.Node, opts ...cmap.Option) *cmap.Client {
	t.Helper()
	c, err := cmap.Dial(ctxT(t, 10*time.Second), append([]cmap.Option{cmap.WithDialer(n.Dialer()), fast}, opts...)...)
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
