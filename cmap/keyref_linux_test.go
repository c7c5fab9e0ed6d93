package cmap_test

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
)

// keyFamily is one row of docs/cmap-keys.md.
type keyFamily struct {
	pattern  string // as written
	re       *regexp.Regexp
	typ      string
	releases string // all, 2.x, 3.x
	always   bool
	line     int
}

func (f keyFamily) on(v corosync.Version) bool {
	switch f.releases {
	case "2.x":
		return !v.AtLeast(corosync.Version3_0)
	case "3.x":
		return v.AtLeast(corosync.Version3_0)
	}
	return true
}

var placeholders = strings.NewReplacer(
	`<n>`, `[0-9]+`, `<id>`, `[0-9]+`, `<pid>`, `[0-9]+`, `<ptr>`, `0x[0-9a-f]+`,
	`<name>`, `[^.]+`, `<conn>`, `.+`)

// patternRE turns a reference pattern into a regular expression: see the
// notes at the top of docs/cmap-keys.md.
func patternRE(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	for len(p) > 0 {
		switch {
		case p[0] == '<':
			i := strings.IndexByte(p, '>')
			if i < 0 {
				return nil, fmt.Errorf("unclosed <")
			}
			r := placeholders.Replace(p[:i+1])
			if r == p[:i+1] {
				return nil, fmt.Errorf("unknown placeholder %s", p[:i+1])
			}
			b.WriteString(r)
			p = p[i+1:]
		case p[0] == '{':
			i := strings.IndexByte(p, '}')
			if i < 0 {
				return nil, fmt.Errorf("unclosed {")
			}
			alts := strings.Split(p[1:i], ",")
			for j := range alts {
				alts[j] = regexp.QuoteMeta(alts[j])
			}
			b.WriteString("(" + strings.Join(alts, "|") + ")")
			p = p[i+1:]
		default:
			b.WriteString(regexp.QuoteMeta(p[:1]))
			p = p[1:]
		}
	}
	return regexp.Compile("^" + b.String() + "$")
}

// readKeyReference parses the tables of docs/cmap-keys.md.
func readKeyReference(t testing.TB) []keyFamily {
	t.Helper()
	f, err := os.Open("../docs/cmap-keys.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fams []keyFamily
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		c := strings.Split(l, "|")
		if len(c) != 8 {
			t.Fatalf("docs/cmap-keys.md:%d: %d cells, want 6", n, len(c)-2)
		}
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		p := strings.Trim(c[1], "`")
		re, err := patternRE(p)
		if err != nil {
			t.Fatalf("docs/cmap-keys.md:%d: %s: %v", n, p, err)
		}
		if _, err := cmap.ParseValueType(c[2]); err != nil {
			t.Fatalf("docs/cmap-keys.md:%d: %v", n, err)
		}
		if c[3] != "all" && c[3] != "2.x" && c[3] != "3.x" {
			t.Fatalf("docs/cmap-keys.md:%d: releases %q", n, c[3])
		}
		fams = append(fams, keyFamily{pattern: p, re: re, typ: c[2], releases: c[3], always: strings.HasPrefix(c[4], "always"), line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fams) < 40 {
		t.Fatalf("docs/cmap-keys.md: only %d families", len(fams))
	}
	return fams
}

// TestKeyReference checks docs/cmap-keys.md against the keys of a real
// three-node cluster, per daemon of the matrix: every runtime.* key of the
// main map and every key of the stats map matches a family of the
// reference (the first that matches) with that family's type, and every
// family marked always matches a key.
//
// On corosync 2.x, Iter does not list the per-connection entries
// (runtime.connections.<conn>.*); they are taken from corosync-cmapctl,
// which lists them (nothing connects meanwhile).
func TestKeyReference(t *testing.T) {
	fams := readKeyReference(t)
	corotest.Matrix(t, func(t *testing.T, d corotest.Daemon) {
		cl := corotest.Start(t, 3, corotest.Options{Daemon: &d})
		if err := cl.WaitFormed(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		node := cl.Nodes[0]
		c := dial(t, node)
		ctx := ctxT(t, 60*time.Second)
		v := checkVersion(t, c, node)
		type key struct{ name, typ string }
		var keys []key
		if v.AtLeast(corosync.Version3_0) {
			for e, err := range dial(t, node, cmap.WithMap(cmap.MapStats)).Iter(ctx, "") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, key{e.Key, e.Type.String()})
			}
		} else {
			waitRefreshed2x(t, ctx, c)
			for _, l := range cmapctl(t, node, connPrefix2x) {
				if _, _, ok := connKey(l.key); ok {
					keys = append(keys, key{l.key, l.typ})
				}
			}
		}
		for e, err := range c.Iter(ctx, "runtime.") {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, key{e.Key, e.Type.String()})
		}
		hits := make([]int, len(fams))
		for _, k := range keys {
			found := false
			for i, f := range fams {
				if f.on(v) && f.re.MatchString(k.name) {
					found = true
					hits[i]++
					if f.typ != k.typ {
						t.Errorf("%s is %s; docs/cmap-keys.md:%d says %s for %s", k.name, k.typ, f.line, f.typ, f.pattern)
					}
					break
				}
			}
			if !found {
				t.Errorf("%s (%s) matches no family of docs/cmap-keys.md", k.name, k.typ)
			}
		}
		for i, f := range fams {
			if f.on(v) && f.always && hits[i] == 0 {
				t.Errorf("docs/cmap-keys.md:%d: %s is marked always, but no key of %s matches it", f.line, f.pattern, d)
			}
		}
		t.Logf("%s: %d keys checked against %d families", d, len(keys), len(fams))
	})
}

// TestKeyReferenceMock checks package mock's runtime.* and stats keys
// against docs/cmap-keys.md as TestKeyReference does the daemons' (the
// families marked always need not all be modelled). The mock's 2.4 map is
// its 3.x map with the release probe's keys changed, so only 3.x is
// checked.
func TestKeyReferenceMock(t *testing.T) {
	fams := readKeyReference(t)
	for _, v := range []corosync.Version{corosync.Version3_0, corosync.Version3_1_6} {
		t.Run(v.String(), func(t *testing.T) {
			ctx := ctxT(t, 10*time.Second)
			node := mock.NewCluster(3, mock.WithDaemonVersion(v)).Node(1)
			open := func(opts ...client.Option) *cmap.Client {
				c, err := cmap.Dial(ctx, append([]client.Option{client.WithDialer(node)}, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			var entries []cmap.Entry
			collect := func(c *cmap.Client, prefix string) {
				for e, err := range c.Iter(ctx, prefix) {
					if err != nil {
						t.Fatal(err)
					}
					entries = append(entries, e)
				}
			}
			collect(open(), "runtime.")
			collect(open(cmap.WithMap(cmap.MapStats)), "")
			for _, e := range entries {
				found := false
				for _, f := range fams {
					if f.on(v) && f.re.MatchString(e.Key) {
						found = true
						if f.typ != e.Type.String() {
							t.Errorf("mock %s: %s is %s; docs/cmap-keys.md:%d says %s", v, e.Key, e.Type, f.line, f.typ)
						}
						break
					}
				}
				if !found {
					t.Errorf("mock %s: %s (%s) matches no family of docs/cmap-keys.md", v, e.Key, e.Type)
				}
			}
		})
	}
}
