//go:build oracle

package cmaporacle

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// raw reads the map through our codec over our transport.
type raw struct {
	t   testing.TB
	c   *transport.IPCConn
	buf []byte
}

func dialRaw(t testing.TB, node *corotest.Node, m cmapwire.Map) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "cmap", transport.Config{NetNS: node.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, buf: make([]byte, 0, 64<<10)}
	if m != cmapwire.MapICMap {
		b, _ := cmapwire.AppendSetCurrentMap(nil, m)
		if resp := r.call(cmapwire.ReqSetCurrentMap, b, nil); resp.Err() != nil {
			t.Fatal(resp.Err())
		}
	}
	return r
}

func (r *raw) call(id int32, req []byte, err error) cmapwire.Response {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := r.c.Request(ctx, req, r.buf)
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := cmapwire.DecodeResponse(b, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp
}

// all iterates prefix and GETs each key, the ITER_NEXT right after the
// ITER_INIT.
func (r *raw) all(prefix string) []Entry {
	b, err := cmapwire.AppendIterInit(nil, prefix)
	it := r.call(cmapwire.ReqIterInit, b, err)
	if it.Err() != nil {
		r.t.Fatal(it.Err())
	}
	defer r.call(cmapwire.ReqIterFinalize, cmapwire.AppendIterFinalize(nil, it.Handle), nil)
	var out []Entry
	for {
		n := r.call(cmapwire.ReqIterNext, cmapwire.AppendIterNext(nil, it.Handle), nil)
		if n.Error == corosync.ErrNoSections {
			return out
		}
		if n.Err() != nil {
			r.t.Fatal(n.Err())
		}
		b, err := cmapwire.AppendGet(nil, n.Key)
		g := r.call(cmapwire.ReqGet, b, err)
		if g.Error == corosync.ErrNotExist {
			continue
		}
		if g.Err() != nil {
			r.t.Fatalf("get %s: %v", n.Key, g.Err())
		}
		out = append(out, Entry{Key: n.Key, Value: g.Value})
	}
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

func setTestKeys(t *testing.T, o *Client) {
	for key, v := range map[string]cmapwire.Value{
		"oracle.i8": cmapwire.Int8(-8), "oracle.u8": cmapwire.Uint8(8), "oracle.i16": cmapwire.Int16(-16),
		"oracle.u16": cmapwire.Uint16(16), "oracle.i32": cmapwire.Int32(-32), "oracle.u32": cmapwire.Uint32(32),
		"oracle.i64": cmapwire.Int64(math.MinInt64), "oracle.u64": cmapwire.Uint64(math.MaxUint64),
		"oracle.flt": cmapwire.Float(1.25), "oracle.dbl": cmapwire.Double(-2.5), "oracle.str": cmapwire.String("a b=c"),
		"oracle.empty": cmapwire.String(""), "oracle.bin": cmapwire.Binary([]byte{0, 1, 0xfe}),
	} {
		if err := o.Set(key, v); err != nil {
			t.Fatalf("oracle set %s: %v", key, err)
		}
	}
}

// TestMapMatchesLibcmapAndCmapctl reads the whole map of one node three
// ways in the same run: our codec (ITER_INIT/ITER_NEXT/GET over our
// transport), C libcmap, and corosync-cmapctl's text output.
func TestMapMatchesLibcmapAndCmapctl(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{})
	node := c.Nodes[0]
	o, err := Open(node.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Finalize()
	setTestKeys(t, o)
	r := dialRaw(t, node, cmapwire.MapICMap)

	ours := r.all("")
	theirs, err := o.All("")
	if err != nil {
		t.Fatal(err)
	}
	text := cmapctl(t, node)
	again := r.all("")
	moved := map[string]bool{}
	for _, list := range [][]Entry{theirs, again} {
		byKey := map[string]cmapwire.Value{}
		for _, e := range list {
			byKey[e.Key] = e.Value
		}
		for _, e := range ours {
			if v, ok := byKey[e.Key]; !ok || !v.Equal(e.Value) {
				moved[e.Key] = true
			}
		}
	}
	if len(ours) < 30 {
		t.Fatalf("only %d keys", len(ours))
	}
	if len(ours) != len(theirs) || len(ours) != len(text) {
		t.Errorf("key counts: ours %d, libcmap %d, corosync-cmapctl %d", len(ours), len(theirs), len(text))
	}
	for i := range min(len(ours), len(theirs), len(text)) {
		a, b, x := ours[i], theirs[i], text[i]
		if a.Key != b.Key || a.Key != x.key {
			t.Fatalf("key %d: ours %s, libcmap %s, corosync-cmapctl %s", i, a.Key, b.Key, x.key)
		}
		if a.Value.Type() != b.Value.Type() || a.Value.Type().String() != x.typ {
			t.Errorf("%s: type ours %s, libcmap %s, corosync-cmapctl %s", a.Key, a.Value.Type(), b.Value.Type(), x.typ)
		}
		if volatile(a.Key) && moved[a.Key] {
			continue
		}
		if !a.Value.Equal(b.Value) {
			t.Errorf("%s: ours %#v, libcmap %#v", a.Key, a.Value, b.Value)
		}
		if a.Value.Type() != cmapwire.TypeBinary && a.Value.Text() != x.text {
			t.Errorf("%s: ours %q, corosync-cmapctl %q", a.Key, a.Value.Text(), x.text)
		}
	}
	var movedKeys []string
	for k := range moved {
		movedKeys = append(movedKeys, k)
		if !volatile(k) {
			t.Errorf("%s changed between reads", k)
		}
	}
	t.Logf("%d keys identical three ways; moved between reads: %v", len(ours), movedKeys)

	// The stats map: the same keys and types (values move). Connection
	// keys differ (each reader has its own connection) and are left out.
	ost, err := OpenMap(node.NetNSPath(), cmapwire.MapStats)
	if err != nil {
		t.Fatal(err)
	}
	defer ost.Finalize()
	rs := dialRaw(t, node, cmapwire.MapStats)
	stable := func(keys []string) []string {
		var out []string
		for _, k := range keys {
			if !strings.HasPrefix(k, "stats.ipcs.service") {
				out = append(out, k)
			}
		}
		return out
	}
	sOurs := rs.all("")
	sTheirs, err := ost.All("")
	if err != nil {
		t.Fatal(err)
	}
	sText := cmapctl(t, node, "-m", "stats")
	var ko, kt, kx []string
	for _, e := range sOurs {
		ko = append(ko, e.Key+" "+e.Value.Type().String())
	}
	for _, e := range sTheirs {
		kt = append(kt, e.Key+" "+e.Value.Type().String())
	}
	for _, e := range sText {
		kx = append(kx, e.key+" "+e.typ)
	}
	ko, kt, kx = stable(ko), stable(kt), stable(kx)
	if fmt.Sprint(ko) != fmt.Sprint(kt) || fmt.Sprint(ko) != fmt.Sprint(kx) {
		t.Errorf("stats keys differ:\nours    %v\nlibcmap %v\ncmapctl %v", ko, kt, kx)
	}
	t.Logf("%d stats keys (besides per-connection ones) identical three ways", len(ko))
}

// TestEventsMatchLibcmap tracks the same prefix through our codec and
// through libcmap and compares the notifications of the same changes.
func TestEventsMatchLibcmap(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{})
	node := c.Nodes[0]
	o, err := Open(node.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Finalize()
	th, err := o.TrackAdd("ev.", cmapwire.TrackAdd|cmapwire.TrackDelete|cmapwire.TrackModify|cmapwire.TrackPrefix)
	if err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, node, cmapwire.MapICMap)
	b, err := cmapwire.AppendTrackAdd(nil, "ev.", cmapwire.TrackAdd|cmapwire.TrackDelete|cmapwire.TrackModify|cmapwire.TrackPrefix, 77)
	tr := r.call(cmapwire.ReqTrackAdd, b, err)
	if tr.Err() != nil {
		t.Fatal(tr.Err())
	}
	steps := []func() error{
		func() error { return o.Set("ev.a", cmapwire.Uint32(1)) },
		func() error { return o.Inc("ev.a") },
		func() error { return o.Dec("ev.a") },
		func() error { return o.Set("ev.a", cmapwire.String("x")) },
		func() error { return o.Set("ev.b", cmapwire.Binary(nil)) },
		func() error { return o.Delete("ev.a") },
		func() error { return o.Delete("ev.b") },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want, err := o.WaitEvents(ctx, len(steps))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := r.c.ReadEvent(ctx)
		cancel()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		n, err := cmapwire.DecodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		if n.Cookie != 77 || n.Key != w.Key || n.Event != w.Event || !n.New.Equal(w.New) || !n.Old.Equal(w.Old) {
			t.Errorf("event %d: ours %s %s %#v %#v, libcmap %s %s %#v %#v", i, n.Key, n.Event, n.New, n.Old, w.Key, w.Event, w.New, w.Old)
		}
	}
	if err := o.TrackDelete(th); err != nil {
		t.Fatal(err)
	}
	if d := r.call(cmapwire.ReqTrackDelete, cmapwire.AppendTrackDelete(nil, tr.Handle), nil); d.Err() != nil || d.Cookie != 77 {
		t.Errorf("track_delete: %+v", d)
	}
	t.Logf("%d notifications identical", len(want))
}
