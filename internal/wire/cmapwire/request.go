package cmapwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// putName writes a mar_name_t: the length, then the name NUL-padded to 256
// bytes. Callers have checked len(name) <= MaxKeyLen, so a NUL always
// follows the name (the daemon reads it as a C string).
func putName(b []byte, name string) {
	le.PutUint16(b[0:], uint16(len(name)))
	copy(b[8:8+nameBufSize], name)
}

func newRequest(dst []byte, id int32, size int) ([]byte, []byte) {
	dst, b := wire.Grow(dst, size)
	wire.PutRequestHeader(b, id)
	return dst, b
}

// AppendSet appends a SET of key to v. The key must pass CheckKey and the
// value CheckValue. Strings are sent with their NUL (value_len counts it).
func AppendSet(dst []byte, key string, v Value) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return dst, err
	}
	if err := CheckValue(key, v); err != nil {
		return dst, err
	}
	dst, b := newRequest(dst, ReqSet, SetRequestSize+len(v.data))
	putName(b[16:], key)
	le.PutUint64(b[280:], uint64(len(v.data)))
	b[288] = byte(v.typ)
	copy(b[296:], v.data)
	return dst, nil
}

// AppendDelete appends a DELETE of key.
func AppendDelete(dst []byte, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return dst, err
	}
	dst, b := newRequest(dst, ReqDelete, DeleteRequestSize)
	putName(b[16:], key)
	return dst, nil
}

// AppendGet appends a GET of key offering a GetBufferSize buffer, which
// holds any value of either map: the daemon's stats map ignores the buffer
// size and would write past a smaller one. The response is at most
// GetResponseSize+GetBufferSize bytes.
func AppendGet(dst []byte, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return dst, err
	}
	return appendGet(dst, key, GetBufferSize), nil
}

// AppendGetN appends a GET of key offering an n-byte buffer, 1 <= n <=
// GetBufferSize: for the main map (icmap) only, where the daemon checks
// the buffer and answers CS_ERR_INVALID_PARAM when the value is larger
// (corosync 2.4.6 and 3.1.10 exec/icmap.c icmap_get_r), and answers 40+n
// bytes instead of 40+GetBufferSize. Never on the stats map, which ignores
// the size (SPEC.md §5(a)). n is checked; 0 would be a size-only GET.
func AppendGetN(dst []byte, key string, n uint64) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return dst, err
	}
	if n == 0 || n > GetBufferSize {
		return dst, fmt.Errorf("cmap: GET buffer of %d bytes for %s, want 1..%d: %w", n, key, GetBufferSize, corosync.ErrInvalidParam)
	}
	return appendGet(dst, key, n), nil
}

// AppendGetSize appends a size-only GET of key (value_len 0: the daemon
// answers type and length, no value). It refuses stats keys: for
// stats.schedmiss.* the 3.1.7 daemon copies the value through the NULL
// buffer and crashes, and nothing is gained on the others.
func AppendGetSize(dst []byte, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return dst, err
	}
	if IsStatsKey(key) {
		return dst, &DangerError{Request: "size-only GET", Key: key,
			Detail: "the stats map copies the value through the NULL buffer of a size query (corosync 3.1.7 crashes on stats.schedmiss.*); use AppendGet"}
	}
	return appendGet(dst, key, 0), nil
}

func appendGet(dst []byte, key string, n uint64) []byte {
	dst, b := newRequest(dst, ReqGet, GetRequestSize)
	putName(b[16:], key)
	le.PutUint64(b[280:], n)
	return dst
}

// AppendAdjust appends an ADJUST_INT of key by step (cmap_inc sends 1,
// cmap_dec -1). The daemon adds step with wrap-around in the key's width.
func AppendAdjust(dst []byte, key string, step int32) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return dst, err
	}
	dst, b := newRequest(dst, ReqAdjustInt, AdjustRequestSize)
	putName(b[16:], key)
	le.PutUint32(b[280:], uint32(step))
	return dst, nil
}

// AppendIterInit appends an ITER_INIT over the keys starting with prefix
// ("" for all keys).
//
// The daemon keeps a pointer to the prefix inside this request in the
// shared request ring and reads it only at the first ITER_NEXT: send that
// ITER_NEXT right after this request's response, before any other request
// on the connection (see SPEC.md).
func AppendIterInit(dst []byte, prefix string) ([]byte, error) {
	if err := CheckPrefix(prefix); err != nil {
		return dst, err
	}
	dst, b := newRequest(dst, ReqIterInit, IterInitRequestSize)
	putName(b[16:], prefix)
	return dst, nil
}

func appendHandle(dst []byte, id int32, h uint64) []byte {
	dst, b := newRequest(dst, id, 24)
	le.PutUint64(b[16:], h)
	return dst
}

// AppendIterNext appends an ITER_NEXT on iterator handle h.
func AppendIterNext(dst []byte, h uint64) []byte { return appendHandle(dst, ReqIterNext, h) }

// AppendIterFinalize appends an ITER_FINALIZE of iterator handle h.
func AppendIterFinalize(dst []byte, h uint64) []byte { return appendHandle(dst, ReqIterFinalize, h) }

// AppendTrackDelete appends a TRACK_DELETE of the daemon's track handle h.
func AppendTrackDelete(dst []byte, h uint64) []byte { return appendHandle(dst, ReqTrackDelete, h) }

// AppendTrackAdd appends a TRACK_ADD. flags must include at least one of
// TrackAdd, TrackDelete, TrackModify and nothing outside the four flags.
// With TrackPrefix, key is a prefix (CheckPrefix; "" tracks every key),
// otherwise an exact key (CheckKey). cookie is echoed in every notification
// of this tracker.
//
// Exact tracking of a string stats key (stats.*.procname) is refused: the
// 3.1.7 stats map copies such a value into an 8-byte slot of the tracker
// and corrupts the daemon's memory.
func AppendTrackAdd(dst []byte, key string, flags TrackFlags, cookie uint64) ([]byte, error) {
	if flags&^trackAll != 0 || flags&(TrackAdd|TrackDelete|TrackModify) == 0 {
		return dst, fmt.Errorf("cmap: track flags %#x for %q: need add, delete or modify, and nothing but add|delete|modify|prefix: %w",
			int32(flags), key, corosync.ErrInvalidParam)
	}
	if flags&TrackPrefix != 0 {
		if err := CheckPrefix(key); err != nil {
			return dst, err
		}
	} else {
		if err := CheckKey(key); err != nil {
			return dst, err
		}
		if unsafeStatsTrack(key) {
			return dst, &DangerError{Request: "exact TRACK_ADD", Key: key,
				Detail: "the stats map polls a tracked key into an 8-byte slot; this string value is longer and corrupts corosync 3.1.7's memory"}
		}
	}
	dst, b := newRequest(dst, ReqTrackAdd, TrackAddRequestSize)
	putName(b[16:], key)
	le.PutUint32(b[280:], uint32(flags))
	le.PutUint64(b[288:], cookie)
	return dst, nil
}

// AppendSetCurrentMap appends a SET_CURRENT_MAP selecting m (MapICMap or
// MapStats). The daemon answers CS_ERR_BUSY while the connection has
// iterators or trackers.
func AppendSetCurrentMap(dst []byte, m Map) ([]byte, error) {
	if m != MapICMap && m != MapStats {
		return dst, fmt.Errorf("cmap: unknown map %d (0 icmap, 1 stats): %w", int32(m), corosync.ErrInvalidParam)
	}
	dst, b := newRequest(dst, ReqSetCurrentMap, SetMapRequestSize)
	le.PutUint32(b[16:], uint32(m))
	return dst, nil
}

// Request is a decoded client request, as the daemon sees it.
type Request struct {
	ID   int32
	Size int32
	// Key is the key name or prefix: the bytes of the name buffer up to the
	// first NUL (the daemon reads it as a C string). SET, DELETE, GET,
	// ADJUST_INT, ITER_INIT, TRACK_ADD.
	Key string
	// KeyLen is the length field of the name; the daemon only tests it for
	// zero ("no prefix", "no key") in ITER_INIT and TRACK_ADD.
	KeyLen uint16
	// Value is SET's value.
	Value Value
	// ValueLen is GET's requested buffer size (0: size only) and SET's
	// value_len.
	ValueLen uint64
	// Step is ADJUST_INT's step.
	Step int32
	// Handle is the iterator handle (ITER_NEXT, ITER_FINALIZE) or the track
	// handle (TRACK_DELETE).
	Handle uint64
	// Flags is TRACK_ADD's track_type.
	Flags TrackFlags
	// Cookie is TRACK_ADD's track_inst_handle.
	Cookie uint64
	// Map is SET_CURRENT_MAP's map.
	Map Map
}

// RequestName names a request id for errors and logs.
func RequestName(id int32) string {
	names := [...]string{"set", "delete", "get", "adjust_int", "iter_init", "iter_next", "iter_finalize", "track_add", "track_delete", "set_current_map"}
	if id >= 0 && int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("request %d", id)
}

// RequestSize returns the fixed size of request id (SET: without its
// value), or 0 for an id the daemon does not know.
func RequestSize(id int32) int {
	switch id {
	case ReqSet, ReqTrackAdd:
		return 296
	case ReqDelete, ReqIterInit:
		return 280
	case ReqGet, ReqAdjustInt:
		return 288
	case ReqIterNext, ReqIterFinalize, ReqTrackDelete, ReqSetCurrentMap:
		return 24
	}
	return 0
}

func need(b []byte, n int, msg, field string) error {
	if len(b) < n {
		return wire.Errorf(msg, field, "need %d bytes, have %d", n, len(b))
	}
	return nil
}

// getName decodes the mar_name_t at b[off:]: length must fit the buffer and
// the name must end with a NUL inside it.
func getName(b []byte, off int, msg string) (string, uint16, error) {
	n := le.Uint16(b[off:])
	if n > nameBufSize {
		return "", n, wire.Errorf(msg, "key_name.length", "%d exceeds the %d-byte buffer", n, nameBufSize)
	}
	buf := b[off+8 : off+8+nameBufSize]
	for i, c := range buf {
		if c == 0 {
			return string(buf[:i]), n, nil
		}
	}
	return "", n, wire.Errorf(msg, "key_name.value", "no NUL in %d bytes", nameBufSize)
}

// DecodeRequest decodes a request. Like corosync it accepts any id: an
// unknown one is returned with only ID and Size set, for the caller to
// reject. Every known request is checked against its layout; SET's value
// must fit in the message.
func DecodeRequest(b []byte) (Request, error) {
	h, err := wire.DecodeRequestHeader(b, "cmap request")
	if err != nil {
		return Request{ID: h.ID, Size: h.Size}, err
	}
	r := Request{ID: h.ID, Size: h.Size}
	msg := "cmap " + RequestName(r.ID) + " request"
	size := RequestSize(r.ID)
	if size == 0 {
		return r, nil
	}
	if err := need(b, size, msg, "size"); err != nil {
		return r, err
	}
	switch r.ID {
	case ReqSet, ReqDelete, ReqGet, ReqAdjustInt, ReqIterInit, ReqTrackAdd:
		if r.Key, r.KeyLen, err = getName(b, 16, msg); err != nil {
			return r, err
		}
	}
	switch r.ID {
	case ReqSet:
		r.ValueLen = le.Uint64(b[280:])
		if r.ValueLen > uint64(len(b)-SetRequestSize) {
			return r, wire.Errorf(msg, "value_len", "%d bytes of value, the message holds %d", r.ValueLen, len(b)-SetRequestSize)
		}
		r.Value = RawValue(ValueType(b[288]), b[SetRequestSize:SetRequestSize+int(r.ValueLen)])
	case ReqGet:
		r.ValueLen = le.Uint64(b[280:])
	case ReqAdjustInt:
		r.Step = int32(le.Uint32(b[280:]))
	case ReqIterNext, ReqIterFinalize, ReqTrackDelete:
		r.Handle = le.Uint64(b[16:])
	case ReqTrackAdd:
		r.Flags = TrackFlags(int32(le.Uint32(b[280:])))
		r.Cookie = le.Uint64(b[288:])
	case ReqSetCurrentMap:
		r.Map = Map(int32(le.Uint32(b[16:])))
	}
	return r, nil
}
