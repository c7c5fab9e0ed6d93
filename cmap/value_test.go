package cmap_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/mock"
)

var _ fmt.Stringer = cmap.Value{}
var _ fmt.GoStringer = cmap.Value{}
var _ fmt.Stringer = cmap.ValueType(0)
var _ fmt.Stringer = cmap.TrackFlags(0)
var _ fmt.Stringer = cmap.Map(0)

// TestValueStrings checks String (corosync-cmapctl's text, never an error),
// GoString and the str getter Str.
func TestValueStrings(t *testing.T) {
	for _, c := range []struct {
		v        cmap.Value
		str, gos string
	}{
		{cmap.Uint32(5000), "5000", "u32(5000)"},
		{cmap.Int8(-8), "-8", "i8(-8)"},
		{cmap.String("a b"), "a b", `str("a b")`},
		{cmap.Double(math.Inf(-1)), "-inf", "dbl(-inf)"},
		{cmap.Binary([]byte{'a', 0, '\\'}), `a\x00\\`, "bin(61005c)"},
		{cmap.Value{}, "", "none()"},
	} {
		if got := fmt.Sprint(c.v); got != c.str {
			t.Errorf("%#v: Sprint %q, want %q", c.v, got, c.str)
		}
		if got := fmt.Sprintf("%#v", c.v); got != c.gos {
			t.Errorf("%s: %%#v %q, want %q", c.v, got, c.gos)
		}
	}
	if s, err := cmap.String("x").Str(); s != "x" || err != nil {
		t.Errorf("Str: %q %v", s, err)
	}
	_, err := cmap.Uint32(1).WithKey("totem.token").Str()
	var te *cmap.TypeError
	if !errors.As(err, &te) || te.Have != cmap.TypeUint32 || te.Want != cmap.TypeString || !errors.Is(err, corosync.ErrInvalidParam) ||
		err.Error() != "cmap: key totem.token is u32, not str" {
		t.Errorf("Str of a u32: %v (%#v)", err, te)
	}
	if got := (cmap.TrackAdd | cmap.TrackPrefix).String(); got != "add|prefix" {
		t.Errorf("TrackFlags: %q", got)
	}
	if cmap.TypeUint16.String() != "u16" || cmap.TypeUint16.Size() != 2 || !cmap.TypeBinary.Valid() || cmap.TypeNone.Valid() {
		t.Error("ValueType methods")
	}
	if ty, err := cmap.ParseValueType("dbl"); ty != cmap.TypeDouble || err != nil {
		t.Errorf("ParseValueType: %v %v", ty, err)
	}
}

// TestValueWidening checks Uint and Int on every width and their errors.
func TestValueWidening(t *testing.T) {
	for _, v := range []cmap.Value{cmap.Uint8(math.MaxUint8), cmap.Uint16(math.MaxUint16), cmap.Uint32(math.MaxUint32), cmap.Uint64(math.MaxUint64)} {
		want, _ := fmt.Sscan(v.String(), new(uint64))
		got, err := v.Uint()
		if err != nil || want != 1 || fmt.Sprint(got) != v.String() {
			t.Errorf("%#v: Uint %d %v", v, got, err)
		}
		if _, err := v.Int(); !errors.Is(err, corosync.ErrInvalidParam) {
			t.Errorf("%#v: Int: %v", v, err)
		}
	}
	for _, v := range []cmap.Value{cmap.Int8(math.MinInt8), cmap.Int16(math.MinInt16), cmap.Int32(math.MinInt32), cmap.Int64(math.MinInt64)} {
		got, err := v.Int()
		if err != nil || fmt.Sprint(got) != v.String() {
			t.Errorf("%#v: Int %d %v", v, got, err)
		}
		if _, err := v.Uint(); !errors.Is(err, corosync.ErrInvalidParam) {
			t.Errorf("%#v: Uint: %v", v, err)
		}
	}
	_, err := cmap.String("x").WithKey("totem.cluster_name").Uint()
	var te *cmap.TypeError
	if !errors.As(err, &te) || !te.Widening || err.Error() != "cmap: key totem.cluster_name is str, not an unsigned integer (u8, u16, u32, u64)" {
		t.Errorf("Uint of a str: %v", err)
	}
	_, err = cmap.Double(1).Int()
	if err == nil || err.Error() != "cmap: value is dbl, not a signed integer (i8, i16, i32, i64)" {
		t.Errorf("Int of a dbl: %v", err)
	}
	// A value of the right type but a wrong length is not read.
	if _, err := (cmap.Value{}).Uint(); err == nil {
		t.Error("Uint of no value")
	}
}

// TestValueNoAllocs checks that the getters convert to the codec's type
// without allocating.
func TestValueNoAllocs(t *testing.T) {
	v := cmap.Uint32(7).WithKey("a.b")
	var sink uint64
	if n := testing.AllocsPerRun(100, func() {
		x, _ := v.Uint32()
		y, _ := v.Uint()
		sink += uint64(x) + y + uint64(v.Type()) + uint64(v.Len())
	}); n != 0 {
		t.Errorf("%v allocations per read", n)
	}
	_ = sink
}

// TestPublicErrors checks that argument errors arrive as this package's
// types, with their codes.
func TestPublicErrors(t *testing.T) {
	ctx := context.Background()
	c, err := cmap.Dial(ctx, client.WithDialer(mock.NewCluster(1).Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ke *cmap.KeyError
	if err := c.SetUint8(ctx, "a b", 1); !errors.As(err, &ke) || ke.Key != "a b" || !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("bad key: %v", err)
	}
	for _, err := range c.Iter(ctx, string(make([]byte, 300))) {
		if !errors.As(err, &ke) || !ke.Prefix || !errors.Is(err, corosync.ErrNameTooLong) {
			t.Errorf("long prefix: %v", err)
		}
	}
	var ve *cmap.ValueError
	if err := c.SetString(ctx, "a.b", "x\x00y"); !errors.As(err, &ve) || ve.Type != cmap.TypeString || !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("NUL in a string: %v", err)
	}
	var de *cmap.DangerError
	if _, err := c.Track(ctx, "stats.ipcs.service0.1.0x1.procname", cmap.TrackModify); !errors.As(err, &de) || !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("exact procname track: %v", err)
	}
	if err := cmap.CheckKey("ab"); !errors.As(err, &ke) {
		t.Errorf("CheckKey: %v", err)
	}
	if _, err := c.GetUint(ctx, "totem.cluster_name"); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("GetUint of a str: %v", err)
	}
	if n, err := c.GetUint(ctx, "totem.token"); err != nil || n == 0 {
		t.Errorf("GetUint(totem.token): %d %v", n, err)
	}
}
