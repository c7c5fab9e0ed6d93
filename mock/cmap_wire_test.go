package mock

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// rawSet builds a SET as a client could send it, unchecked.
func rawSet(key string, t cmapwire.ValueType, data []byte) []byte {
	b := make([]byte, cmapwire.SetRequestSize+len(data))
	wire.PutRequestHeader(b, cmapwire.ReqSet)
	binary.LittleEndian.PutUint16(b[16:], uint16(len(key)))
	copy(b[24:280], key)
	binary.LittleEndian.PutUint64(b[280:], uint64(len(data)))
	b[288] = byte(t)
	copy(b[296:], data)
	return b
}

func rawGet(key string, n uint64) []byte {
	b := make([]byte, cmapwire.GetRequestSize)
	wire.PutRequestHeader(b, cmapwire.ReqGet)
	binary.LittleEndian.PutUint16(b[16:], uint16(len(key)))
	copy(b[24:280], key)
	binary.LittleEndian.PutUint64(b[280:], n)
	return b
}

func withHandle(id int32, h uint64) []byte {
	b := make([]byte, 24)
	wire.PutRequestHeader(b, id)
	binary.LittleEndian.PutUint64(b[16:], h)
	return b
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// The answers of SPEC.md §4 (measured on corosync 3.1.7), request by
// request, on the raw connection.
func TestCmapWireAnswers(t *testing.T) {
	cl := NewCluster(1)
	tc, err := cl.Node(1).Dial(context.Background(), "cmap")
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	send := func(req []byte, reqID int32) (cmapwire.Response, int) {
		t.Helper()
		b, err := tc.Request(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cmapwire.DecodeResponse(b, reqID)
		if err != nil {
			t.Fatalf("%s: %v", cmapwire.RequestName(reqID), err)
		}
		return r, len(b)
	}
	code := func(req []byte, reqID int32) corosync.Error {
		t.Helper()
		r, _ := send(req, reqID)
		return r.Error
	}
	check := func(what string, got, want corosync.Error) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	set, get := cmapwire.ReqSet, cmapwire.ReqGet
	u32 := []byte{1, 0, 0, 0}
	// GET
	r, size := send(rawGet("no.such.key", cmapwire.GetBufferSize), get)
	if r.Error != corosync.ErrNotExist || size != 40 {
		t.Errorf("get missing: %v, %d bytes", r.Error, size)
	}
	check("get bad character", code(rawGet("bad key!", 10), get), corosync.ErrNotExist)
	check("get buffer 3 < 9", code(rawGet("totem.transport", 3), get), corosync.ErrInvalidParam)
	r, size = send(rawGet("totem.transport", 0), get)
	if r.Error != corosync.OK || size != 40 || r.ValueLen != 5 || r.Type != cmapwire.TypeString {
		t.Errorf("size-only get: %+v %d bytes", r, size)
	}
	if _, size = send(rawGet("totem.transport", 100), get); size != 140 {
		t.Errorf("get answer %d bytes, want 40+100", size)
	}
	// SET
	check("set bad key!", code(rawSet("bad key!", cmapwire.TypeUint32, u32), set), corosync.ErrNameTooLong)
	check("set 2-char key", code(rawSet("ab", cmapwire.TypeUint32, u32), set), corosync.ErrNameTooLong)
	check("set 255-char key", code(rawSet(strings.Repeat("k", 255), cmapwire.TypeUint32, u32), set), corosync.OK)
	check("set bin 16384", code(rawSet("test.bin", cmapwire.TypeBinary, make([]byte, 16384)), set), corosync.OK)
	check("set bin 16385", code(rawSet("test.bin", cmapwire.TypeBinary, make([]byte, 16385)), set), corosync.ErrInvalidParam)
	check("set u32 of 2 bytes", code(rawSet("test.u32", cmapwire.TypeUint32, u32[:2]), set), corosync.ErrInvalidParam)
	check("set type 0 no value", code(rawSet("test.t0", 0, nil), set), corosync.OK)
	r, _ = send(rawGet("test.t0", 10), get)
	if r.Error != corosync.OK || r.Type != 0 || r.ValueLen != 0 {
		t.Errorf("type 0 key: %+v", r)
	}
	check("set type 13 no value", code(rawSet("test.t13", 13, nil), set), corosync.OK)
	check("set str with inner NUL", code(rawSet("test.s", cmapwire.TypeString, []byte("a\x00b\x00")), set), corosync.ErrInvalidParam)
	check("set str without NUL", code(rawSet("test.s", cmapwire.TypeString, []byte(strings.Repeat("s", 16384))), set), corosync.OK)
	if r, _ = send(rawGet("test.s", cmapwire.GetBufferSize), get); r.ValueLen != 16385 {
		t.Errorf("string without NUL stored as %d bytes, want 16385", r.ValueLen)
	}
	check("set RO", code(rawSet("totem.cluster_name", cmapwire.TypeString, []byte("x\x00")), set), corosync.ErrAccess)
	check("set runtime.config", code(rawSet("runtime.config.totem.token", cmapwire.TypeUint32, u32), set), corosync.ErrAccess)
	check("set runtime.probe", code(rawSet("runtime.probe.x", cmapwire.TypeUint32, u32), set), corosync.OK)
	check("set stats.probe on icmap", code(rawSet("stats.probe.x", cmapwire.TypeUint32, u32), set), corosync.OK)
	noNUL := rawSet("test.x", cmapwire.TypeUint32, u32)
	copy(noNUL[24:280], strings.Repeat("n", 256))
	check("set 256-byte name", code(noNUL, set), corosync.ErrNameTooLong)
	// ADJUST, DELETE
	adj := func(key string, step int32) corosync.Error {
		return code(must[[]byte](t)(cmapwire.AppendAdjust(nil, key, step)), cmapwire.ReqAdjustInt)
	}
	check("adjust str", adj("test.s", 1), corosync.ErrInvalidParam)
	check("adjust missing", adj("no.such.key", 1), corosync.ErrNotExist)
	check("adjust RO", adj("totem.cluster_name", 1), corosync.ErrAccess)
	check("adjust type 0", adj("test.t0", 1), corosync.OK)
	code(rawSet("test.u8", cmapwire.TypeUint8, []byte{0}), set)
	check("adjust u8 by 1000", adj("test.u8", 1000), corosync.OK)
	if r, _ = send(rawGet("test.u8", 8), get); r.Value.Bytes()[0] != 232 {
		t.Errorf("u8 0+1000 = %d, want 232", r.Value.Bytes()[0])
	}
	del := func(key string) corosync.Error {
		return code(must[[]byte](t)(cmapwire.AppendDelete(nil, key)), cmapwire.ReqDelete)
	}
	check("delete RO", del("totem.cluster_name"), corosync.ErrAccess)
	check("delete missing", del("no.such.key"), corosync.ErrNotExist)
	check("delete", del("test.u8"), corosync.OK)
	// Iteration
	r, _ = send(must[[]byte](t)(cmapwire.AppendIterInit(nil, "no.such.prefix.")), cmapwire.ReqIterInit)
	h := r.Handle
	check("iter_init empty prefix", r.Error, corosync.OK)
	for range 2 {
		r, size = send(withHandle(cmapwire.ReqIterNext, h), cmapwire.ReqIterNext)
		if r.Error != corosync.ErrNoSections || size != 304 {
			t.Errorf("iter_next past the end: %v, %d bytes", r.Error, size)
		}
	}
	check("iter_finalize", code(withHandle(cmapwire.ReqIterFinalize, h), cmapwire.ReqIterFinalize), corosync.OK)
	check("iter_finalize twice", code(withHandle(cmapwire.ReqIterFinalize, h), cmapwire.ReqIterFinalize), corosync.ErrBadHandle)
	check("iter_next bogus", code(withHandle(cmapwire.ReqIterNext, 12345), cmapwire.ReqIterNext), corosync.ErrBadHandle)
	// Tracking and the map switch
	tadd := must[[]byte](t)(cmapwire.AppendTrackAdd(nil, "test.", cmapwire.TrackAdd, 7))
	binary.LittleEndian.PutUint32(tadd[280:], 0x10)
	check("track_add 0x10", code(tadd, cmapwire.ReqTrackAdd), corosync.ErrInvalidParam)
	binary.LittleEndian.PutUint32(tadd[280:], 0)
	r, _ = send(tadd, cmapwire.ReqTrackAdd)
	check("track_add 0", r.Error, corosync.OK)
	setMap := func(m cmapwire.Map) corosync.Error {
		b := make([]byte, 24)
		wire.PutRequestHeader(b, cmapwire.ReqSetCurrentMap)
		binary.LittleEndian.PutUint32(b[16:], uint32(m))
		return code(b, cmapwire.ReqSetCurrentMap)
	}
	check("set_current_map with a tracker", setMap(cmapwire.MapStats), corosync.ErrBusy)
	if r, _ = send(withHandle(cmapwire.ReqTrackDelete, r.Handle), cmapwire.ReqTrackDelete); r.Error != corosync.OK || r.Cookie != 7 {
		t.Errorf("track_delete: %+v", r)
	}
	check("track_delete twice", code(withHandle(cmapwire.ReqTrackDelete, r.Handle), cmapwire.ReqTrackDelete), corosync.ErrBadHandle)
	check("set_current_map 2", setMap(2), corosync.ErrNotExist)
	// Unknown request: the generic reject.
	b, _ := tc.Request(context.Background(), withHandle(10, 0), nil)
	if h, _ := wire.DecodeResponseHeader(b); h.ID != 0 || h.Error != corosync.ErrInvalidParam || len(b) != 24 {
		t.Errorf("unknown request: %+v, %d bytes", h, len(b))
	}
	// The stats map.
	check("set_current_map stats", setMap(cmapwire.MapStats), corosync.OK)
	check("stats get icmap key", code(rawGet("totem.cluster_name", 100), get), corosync.ErrNotExist)
	check("stats set counter", code(rawSet("stats.srp.orf_token_tx", cmapwire.TypeUint64, make([]byte, 8)), set), corosync.ErrAccess)
	check("stats set new", code(rawSet("stats.probe.x", cmapwire.TypeUint32, u32), set), corosync.ErrAccess)
	check("stats adjust", adj("stats.srp.orf_token_tx", 1), corosync.ErrAccess)
	check("stats clear all", code(rawSet("stats.clear.all", cmapwire.TypeUint32, u32), set), corosync.OK)
	check("stats clear bogus", code(rawSet("stats.clear.bogus", cmapwire.TypeUint32, u32), set), corosync.ErrNotSupported)
	// A GET with a small buffer: the answer claims the whole value (§5a),
	// which the decoder refuses.
	b, _ = tc.Request(context.Background(), rawGet("stats.srp.orf_token_tx", 1), nil)
	if len(b) != 41 || binary.LittleEndian.Uint64(b[24:]) != 8 {
		t.Errorf("stats get with a 1-byte buffer: %d bytes, value_len %d", len(b), binary.LittleEndian.Uint64(b[24:]))
	}
}
