package cmap_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/corotest"
)

// TestRoundTrip sets every type at its extremes through the typed setters
// and Set, reads each back through Get and the typed getters, and compares
// with corosync-cmapctl -g on the same node.
func TestRoundTrip(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	c := dial(t, node)
	ctx := ctxT(t, 60*time.Second)
	big := bytes.Repeat([]byte("x"), cmap.MaxStringLen)
	bin := make([]byte, cmap.MaxValueLen)
	for i := range bin {
		bin[i] = byte(i)
	}
	type tc struct {
		key  string
		set  func() error
		want cmap.Value
		get  func() (any, error)
		val  any
	}
	var cases []tc
	add := func(key string, set func(string) error, want cmap.Value, get func(string) (any, error), val any) {
		cases = append(cases, tc{key, func() error { return set(key) }, want, func() (any, error) { return get(key) }, val})
	}
	for i, v := range []int8{math.MinInt8, -1, 0, math.MaxInt8} {
		add(key("i8", i), func(k string) error { return c.SetInt8(ctx, k, v) }, cmap.Int8(v),
			func(k string) (any, error) { return c.GetInt8(ctx, k) }, v)
	}
	for i, v := range []uint8{0, math.MaxUint8} {
		add(key("u8", i), func(k string) error { return c.SetUint8(ctx, k, v) }, cmap.Uint8(v),
			func(k string) (any, error) { return c.GetUint8(ctx, k) }, v)
	}
	for i, v := range []int16{math.MinInt16, math.MaxInt16} {
		add(key("i16", i), func(k string) error { return c.SetInt16(ctx, k, v) }, cmap.Int16(v),
			func(k string) (any, error) { return c.GetInt16(ctx, k) }, v)
	}
	for i, v := range []uint16{0, math.MaxUint16} {
		add(key("u16", i), func(k string) error { return c.SetUint16(ctx, k, v) }, cmap.Uint16(v),
			func(k string) (any, error) { return c.GetUint16(ctx, k) }, v)
	}
	for i, v := range []int32{math.MinInt32, math.MaxInt32} {
		add(key("i32", i), func(k string) error { return c.SetInt32(ctx, k, v) }, cmap.Int32(v),
			func(k string) (any, error) { return c.GetInt32(ctx, k) }, v)
	}
	for i, v := range []uint32{0, math.MaxUint32} {
		add(key("u32", i), func(k string) error { return c.SetUint32(ctx, k, v) }, cmap.Uint32(v),
			func(k string) (any, error) { return c.GetUint32(ctx, k) }, v)
	}
	for i, v := range []int64{math.MinInt64, math.MaxInt64} {
		add(key("i64", i), func(k string) error { return c.SetInt64(ctx, k, v) }, cmap.Int64(v),
			func(k string) (any, error) { return c.GetInt64(ctx, k) }, v)
	}
	for i, v := range []uint64{0, math.MaxUint64} {
		add(key("u64", i), func(k string) error { return c.SetUint64(ctx, k, v) }, cmap.Uint64(v),
			func(k string) (any, error) { return c.GetUint64(ctx, k) }, v)
	}
	for i, v := range []float32{-1.5, 0, math.MaxFloat32, float32(math.Inf(1))} {
		add(key("flt", i), func(k string) error { return c.SetFloat(ctx, k, v) }, cmap.Float(v),
			func(k string) (any, error) { return c.GetFloat(ctx, k) }, v)
	}
	for i, v := range []float64{-2.25, math.SmallestNonzeroFloat64, math.Inf(-1)} {
		add(key("dbl", i), func(k string) error { return c.SetDouble(ctx, k, v) }, cmap.Double(v),
			func(k string) (any, error) { return c.GetDouble(ctx, k) }, v)
	}
	for i, v := range []string{"", "a b=c", "üñí", string(big)} {
		add(key("str", i), func(k string) error { return c.SetString(ctx, k, v) }, cmap.String(v),
			func(k string) (any, error) { return c.GetString(ctx, k) }, v)
	}
	for i, v := range [][]byte{{}, {0, 1, 0xfe, '\\'}, bin} {
		add(key("bin", i), func(k string) error { return c.SetBinary(ctx, k, v) }, cmap.Binary(v),
			func(k string) (any, error) { return c.GetBinary(ctx, k) }, string(v))
	}
	for _, x := range cases {
		if err := x.set(); err != nil {
			t.Fatalf("set %s: %v", x.key, err)
		}
		v, err := c.Get(ctx, x.key)
		if err != nil {
			t.Fatalf("get %s: %v", x.key, err)
		}
		if !v.Equal(x.want) || v.Key() != x.key {
			t.Errorf("%s: got %#v, want %#v", x.key, v, x.want)
		}
		g, err := x.get()
		if b, ok := g.([]byte); ok {
			g = string(b)
		}
		if err != nil || g != x.val {
			t.Errorf("%s: typed getter %v, %v; want %v", x.key, g, err, x.val)
		}
		// The same through the generic Set.
		if err := c.Set(ctx, x.key+"g", x.want); err != nil {
			t.Fatalf("Set %s: %v", x.key, err)
		}
		if v2, err := c.Get(ctx, x.key+"g"); err != nil || !v2.Equal(x.want) {
			t.Errorf("Set/Get %sg: %#v %v", x.key, v2, err)
		}
		// corosync-cmapctl reads the same.
		args := []string{"-g", x.key}
		if x.want.Type() == cmap.TypeBinary {
			args = []string{"-b", "-g", x.key}
		}
		e := cmapctl(t, node, args...)
		if len(e) != 1 || e[0].key != x.key || e[0].typ != x.want.Type().String() {
			t.Errorf("%s: corosync-cmapctl says %+v", x.key, e)
			continue
		}
		if cmapctlText(e[0].text) != v.Text() && !(x.want.Type() == cmap.TypeBinary && len(v.Bytes()) == 0) {
			t.Errorf("%s: corosync-cmapctl %q, ours %q", x.key, trunc(e[0].text), trunc(v.Text()))
		}
	}
	t.Logf("%d values round-tripped and equal to corosync-cmapctl -g", len(cases))
}

// cmapctlText undoes corosync-cmapctl's sign extension of binary bytes
// over 0x7f ("\\xFFFFFFFE" for 0xfe: it prints a signed char with %02X).
func cmapctlText(s string) string { return strings.ReplaceAll(s, `\xFFFFFF`, `\x`) }

func key(typ string, i int) string { return "rt." + typ + "." + string(rune('a'+i)) }

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestOperations covers Delete, Inc, Dec and the daemon's refusals.
func TestOperations(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	c := dial(t, node)
	ctx := ctxT(t, 30*time.Second)
	if err := c.SetUint8(ctx, "op.u8", 255); err != nil {
		t.Fatal(err)
	}
	if err := c.Inc(ctx, "op.u8"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetUint8(ctx, "op.u8"); err != nil || v != 0 {
		t.Fatalf("inc wraps: %v %v", v, err)
	}
	if err := c.Dec(ctx, "op.u8"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetUint8(ctx, "op.u8"); err != nil || v != 255 {
		t.Fatalf("dec wraps: %v %v", v, err)
	}
	if err := c.SetInt64(ctx, "op.i64", -1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Inc(ctx, "op.i64"); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := c.GetInt64(ctx, "op.i64"); err != nil || v != 2 {
		t.Fatalf("inc i64: %v %v", v, err)
	}
	if e := cmapctl(t, node, "-g", "op.i64"); len(e) != 1 || e[0].text != "2" {
		t.Fatalf("corosync-cmapctl: %+v", e)
	}
	if err := c.SetString(ctx, "op.str", "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.Inc(ctx, "op.str"); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("inc of a string: %v", err)
	}
	if err := c.Inc(ctx, "op.missing"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("inc of a missing key: %v", err)
	}
	if err := c.Delete(ctx, "op.str"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "op.str"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("get after delete: %v", err)
	} else {
		t.Logf("get after delete: %v", err)
	}
	if err := c.Delete(ctx, "op.str"); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("delete twice: %v", err)
	}
	if err := c.Delete(ctx, "totem.cluster_name"); !errors.Is(err, corosync.ErrAccess) {
		t.Errorf("delete of a read-only key: %v", err)
	}
	if err := c.SetUint32(ctx, "runtime.config.totem.token", 1); !errors.Is(err, corosync.ErrAccess) {
		t.Errorf("set of a read-only key: %v", err)
	}
	// A key may change type.
	if err := c.SetString(ctx, "op.u8", "now a string"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.GetString(ctx, "op.u8"); err != nil || s != "now a string" {
		t.Fatalf("type change: %q %v", s, err)
	}
}
