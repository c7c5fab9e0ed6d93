package cmap_test

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strings"
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

// cmapctlLine is "key (type) = value" or, for binary without -b, "key (bin)".
var cmapctlLine = regexp.MustCompile(`^(\S+) \(([a-z0-9]+)\)(?: = (.*))?$`)

type textEntry struct {
	key, typ, text string
}

// cmapctl runs corosync-cmapctl on node and parses its lines.
func cmapctl(t testing.TB, node *corotest.Node, args ...string) []textEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := node.Exec(ctx, "corosync-cmapctl", args...)
	if err != nil {
		t.Fatalf("corosync-cmapctl %v: %v: %s", args, err, out)
	}
	var res []textEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := cmapctlLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("unparsed corosync-cmapctl line %q", sc.Text())
		}
		res = append(res, textEntry{m[1], m[2], m[3]})
	}
	return res
}

// volatile reports keys whose values move between reads on an idle node.
func volatile(key string) bool {
	for _, p := range []string{"runtime.services.", "resources.", "stats."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
