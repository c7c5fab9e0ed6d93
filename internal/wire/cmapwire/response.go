package cmapwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// ResponseFor returns the response id the daemon uses for request id.
func ResponseFor(req int32) int32 {
	if req == ReqSetCurrentMap {
		return ResSetCurrentMap
	}
	return req
}

// Response is a decoded response. Which fields are set depends on the
// request; on an error only the header is meaningful.
type Response struct {
	wire.ResponseHeader
	// Rejected is set for the daemon's generic reject (id 0, 24 bytes, an
	// error) to a request other than SET, whose own response looks the same.
	Rejected bool
	// Handle is the iterator handle (ITER_INIT) or the daemon's track handle
	// (TRACK_ADD).
	Handle uint64
	// Cookie is the track_inst_handle a TRACK_DELETE returns.
	Cookie uint64
	// Key is the key ITER_NEXT returns.
	Key string
	// Type and ValueLen are the stored type and length (GET, ITER_NEXT).
	Type     ValueType
	ValueLen uint64
	// Value is GET's value, carrying Key for its errors when set by the
	// caller through WithKey. A size-only GET leaves it empty.
	Value Value
}

// Err returns nil for CS_OK and the corosync.Error otherwise.
func (r Response) Err() error {
	if r.Error == corosync.OK {
		return nil
	}
	return r.Error
}

// DecodeResponse decodes the response to request reqID. Any id other than
// the expected one (or the generic reject) is a DecodeError, as is a
// response shorter than its layout or a value that does not fit.
func DecodeResponse(b []byte, reqID int32) (Response, error) {
	h, err := wire.DecodeResponseHeader(b)
	r := Response{ResponseHeader: h}
	if err != nil {
		return r, err
	}
	want := ResponseFor(reqID)
	msg := "cmap " + RequestName(reqID) + " response"
	if h.ID == 0 && want != 0 && len(b) == ResponseHeaderSize && h.Error != corosync.OK {
		r.Rejected = true
		return r, nil
	}
	if h.ID != want {
		return r, wire.Errorf(msg, "id", "got %d, want %d", h.ID, want)
	}
	switch want {
	case ResGet:
		if err := need(b, GetResponseSize, msg, "value_len"); err != nil {
			return r, err
		}
		r.ValueLen = le.Uint64(b[24:])
		r.Type = ValueType(b[32])
		if h.Error != corosync.OK {
			return r, nil
		}
		room := uint64(len(b) - GetResponseSize)
		if room == 0 {
			return r, nil // size-only answer
		}
		if r.ValueLen > room {
			return r, wire.Errorf(msg, "value_len", "%d bytes of value, the message holds %d", r.ValueLen, room)
		}
		r.Value = RawValue(r.Type, b[GetResponseSize:GetResponseSize+int(r.ValueLen)])
	case ResIterInit, ResTrackAdd, ResTrackDelete:
		field := "handle"
		if want == ResTrackDelete {
			field = "track_inst_handle"
		}
		if len(b) < 32 {
			if h.Error != corosync.OK {
				return r, nil
			}
			return r, need(b, 32, msg, field)
		}
		if want == ResTrackDelete {
			r.Cookie = le.Uint64(b[24:])
		} else {
			r.Handle = le.Uint64(b[24:])
		}
	case ResIterNext:
		if len(b) < IterNextResponseSize && h.Error != corosync.OK {
			return r, nil
		}
		if err := need(b, IterNextResponseSize, msg, "key_name"); err != nil {
			return r, err
		}
		if r.Key, _, err = getName(b, 24, msg); err != nil {
			return r, err
		}
		r.ValueLen = le.Uint64(b[288:])
		r.Type = ValueType(b[296])
	}
	return r, nil
}

func newResponse(dst []byte, id int32, code corosync.Error, size int) ([]byte, []byte) {
	dst, b := wire.Grow(dst, size)
	wire.PutResponseHeader(b, id, code)
	return dst, b
}

// AppendStatus appends a bare 24-byte response with id (a Res* id) and
// code: the answer to SET, DELETE, ADJUST_INT, ITER_FINALIZE and
// SET_CURRENT_MAP (ResSetCurrentMap).
func AppendStatus(dst []byte, id int32, code corosync.Error) []byte {
	dst, _ = newResponse(dst, id, code, ResponseHeaderSize)
	return dst
}

// AppendReject appends the daemon's generic reject of an unknown request:
// id 0, 24 bytes, code (corosync sends CS_ERR_INVALID_PARAM).
func AppendReject(dst []byte, code corosync.Error) []byte { return AppendStatus(dst, 0, code) }

// maxGetAnswer bounds the buffer a fake daemon honours; the real one
// mallocs whatever is asked.
const maxGetAnswer = 1 << 20

// AppendGetResponse appends the answer to a GET that asked for a buffer of
// requested bytes, as corosync builds it: on error 40 bytes with no value;
// on success 40+requested bytes holding v, zero-padded, with the real
// length in value_len (requested 0: type and length only). It fails when
// requested is neither 0 nor large enough for v (the daemon answers
// CS_ERR_INVALID_PARAM then) or over 1 MiB.
func AppendGetResponse(dst []byte, requested uint64, code corosync.Error, v Value) ([]byte, error) {
	if code != corosync.OK {
		dst, _ = newResponse(dst, ResGet, code, GetResponseSize)
		return dst, nil
	}
	if requested > maxGetAnswer {
		return dst, fmt.Errorf("cmap get response: buffer of %d bytes exceeds %d", requested, maxGetAnswer)
	}
	if requested != 0 && requested < uint64(len(v.data)) {
		return dst, fmt.Errorf("cmap get response: %d-byte value does not fit the %d-byte buffer: %w", len(v.data), requested, corosync.ErrInvalidParam)
	}
	dst, b := newResponse(dst, ResGet, code, GetResponseSize+int(requested))
	le.PutUint64(b[24:], uint64(len(v.data)))
	b[32] = byte(v.typ)
	if requested != 0 {
		copy(b[GetResponseSize:], v.data)
	}
	return dst, nil
}

func appendHandleResponse(dst []byte, id int32, code corosync.Error, h uint64) []byte {
	dst, b := newResponse(dst, id, code, 32)
	le.PutUint64(b[24:], h)
	return dst
}

// AppendIterInitResponse appends the answer to ITER_INIT.
func AppendIterInitResponse(dst []byte, code corosync.Error, handle uint64) []byte {
	return appendHandleResponse(dst, ResIterInit, code, handle)
}

// AppendTrackAddResponse appends the answer to TRACK_ADD.
func AppendTrackAddResponse(dst []byte, code corosync.Error, handle uint64) []byte {
	return appendHandleResponse(dst, ResTrackAdd, code, handle)
}

// AppendTrackDeleteResponse appends the answer to TRACK_DELETE: the cookie
// of the removed tracker (0 on error).
func AppendTrackDeleteResponse(dst []byte, code corosync.Error, cookie uint64) []byte {
	return appendHandleResponse(dst, ResTrackDelete, code, cookie)
}

// AppendIterNextResponse appends the answer to ITER_NEXT: always 304 bytes;
// key, length and type are zero on error.
func AppendIterNextResponse(dst []byte, code corosync.Error, key string, valueLen uint64, t ValueType) ([]byte, error) {
	if err := CheckPrefix(key); err != nil {
		return dst, err
	}
	dst, b := newResponse(dst, ResIterNext, code, IterNextResponseSize)
	if code == corosync.OK {
		putName(b[24:], key)
		le.PutUint64(b[288:], valueLen)
		b[296] = byte(t)
	}
	return dst, nil
}

// Notify is a change notification of a tracker.
type Notify struct {
	Cookie uint64     // the track_inst_handle given to TRACK_ADD
	Key    string     // the key that changed
	Event  TrackFlags // TrackAdd, TrackDelete or TrackModify
	New    Value      // zero Value: none (DELETE)
	Old    Value      // zero Value: none (ADD, and MODIFY of daemon counters)
}

// DecodeEvent decodes a notification (id EvNotify) from the event channel.
// The values carry the key for their errors.
func DecodeEvent(b []byte) (Notify, error) {
	const msg = "cmap notification"
	var n Notify
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return n, err
	}
	if h.ID != EvNotify {
		return n, wire.Errorf("cmap event", "id", "unknown event id %d", h.ID)
	}
	if err := need(b, NotifySize, msg, "size"); err != nil {
		return n, err
	}
	n.Cookie = le.Uint64(b[24:])
	if n.Key, _, err = getName(b, 32, msg); err != nil {
		return n, err
	}
	n.Event = TrackFlags(int32(le.Uint32(b[296:])))
	newType, oldType := ValueType(b[304]), ValueType(b[312])
	newLen, oldLen := le.Uint64(b[320:]), le.Uint64(b[328:])
	room := uint64(len(b) - NotifySize)
	if newLen > room {
		return n, wire.Errorf(msg, "new_value_len", "%d bytes, the message holds %d", newLen, room)
	}
	if oldLen > room-newLen {
		return n, wire.Errorf(msg, "old_value_len", "%d bytes after %d new, the message holds %d", oldLen, newLen, room)
	}
	off := uint64(NotifySize)
	n.New = RawValue(newType, b[off:off+newLen]).WithKey(n.Key)
	n.Old = RawValue(oldType, b[off+newLen:off+newLen+oldLen]).WithKey(n.Key)
	return n, nil
}

// AppendEvent appends n as the daemon sends it: 336 bytes, then the new
// and the old value packed back to back.
func AppendEvent(dst []byte, n Notify) ([]byte, error) {
	if err := CheckPrefix(n.Key); err != nil {
		return dst, err
	}
	for _, v := range []Value{n.New, n.Old} {
		if len(v.data) > GetBufferSize {
			return dst, fmt.Errorf("cmap notification for %s: %d-byte value exceeds %d: %w", n.Key, len(v.data), GetBufferSize, corosync.ErrTooBig)
		}
	}
	dst, b := newResponse(dst, EvNotify, corosync.OK, NotifySize+len(n.New.data)+len(n.Old.data))
	le.PutUint64(b[24:], n.Cookie)
	putName(b[32:], n.Key)
	le.PutUint32(b[296:], uint32(n.Event))
	b[304] = byte(n.New.typ)
	b[312] = byte(n.Old.typ)
	le.PutUint64(b[320:], uint64(len(n.New.data)))
	le.PutUint64(b[328:], uint64(len(n.Old.data)))
	copy(b[NotifySize:], n.New.data)
	copy(b[NotifySize+len(n.New.data):], n.Old.data)
	return dst, nil
}
