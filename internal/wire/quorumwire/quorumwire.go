// Package quorumwire encodes and decodes the messages of corosync's quorum IPC
// service (include/corosync/ipc_quorum.h, corosync 3.1.7) in both directions.
//
// Every message starts with a libqb header whose int32 fields are each
// aligned to 8 bytes: requests have a 16-byte header {id@0, size@8},
// responses and events a 24-byte header {id@0, size@8, error@16}. Padding is
// written as zero and ignored when read. The notification arrays start 4 bytes
// before the struct's sizeof (offsets 44, 52 and 60), so every notification
// ends with 4 unused bytes; decoders read by offset and never trust sizeof.
//
// Decoders check the declared size against the buffer and every list length
// against what remains, and name the offending field in their error.
package quorumwire

import (
	"encoding/binary"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

var le = binary.LittleEndian

// Request ids (enum req_quorum_types).
const (
	ReqGetQuorate   int32 = 0
	ReqTrackStart   int32 = 1
	ReqTrackStop    int32 = 2
	ReqGetType      int32 = 3
	ReqModelGetType int32 = 4
)

// Response and event ids (enum res_quorum_types). A rejected request is
// answered with id 0 (ResGetQuorate's value) and CS_ERR_INVALID_PARAM.
const (
	ResGetQuorate            int32 = 0
	ResTrackStart            int32 = 1
	ResTrackStop             int32 = 2
	EvNotification           int32 = 3 // V0 quorum notification
	ResGetType               int32 = 4
	ResModelGetType          int32 = 5
	EvV1QuorumNotification   int32 = 6
	EvV1NodelistNotification int32 = 7
)

// Track flags (CS_TRACK_*).
const (
	TrackCurrent     uint32 = 0x01
	TrackChanges     uint32 = 0x02
	TrackChangesOnly uint32 = 0x04
)

// Quorum models.
const (
	ModelV0 uint32 = 0
	ModelV1 uint32 = 1
)

// Sizes of the fixed parts.
const (
	// RequestSizeWithArg is the size of trackstart and model_gettype requests.
	RequestSizeWithArg = 24
	// ResponseSizeWithValue is the size of getquorate, gettype and model_gettype responses.
	ResponseSizeWithValue = 32

	v0ListOff       = 44
	v1QuorumListOff = 52
	nodelistListOff = 60
)

// MaxNodes is the largest node list corosync can produce (PROCESSOR_COUNT_MAX).
// Decoders accept longer lists if they fit in the message; encoders refuse them.
const MaxNodes = 384

func derr(msg, field, format string, args ...any) error {
	return wire.Errorf(msg, field, format, args...)
}

// Request is a decoded client request.
type Request struct {
	ID   int32
	Size int32
	// Arg is track_flags for trackstart and model for model_gettype; zero otherwise.
	Arg uint32
}

// RequestSize returns the wire size of a request with the given id.
func RequestSize(id int32) int {
	if id == ReqTrackStart || id == ReqModelGetType {
		return RequestSizeWithArg
	}
	return wire.RequestHeaderSize
}

// AppendRequest appends the encoding of request id to dst. arg is the
// track_flags of trackstart or the model of model_gettype and is ignored for
// the other requests.
func AppendRequest(dst []byte, id int32, arg uint32) []byte {
	n := RequestSize(id)
	off := len(dst)
	dst = append(dst, make([]byte, n)...)
	b := dst[off:]
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[8:], uint32(n))
	if n == RequestSizeWithArg {
		le.PutUint32(b[16:], arg)
	}
	return dst
}

// DecodeRequest decodes a request as the daemon sees it. Like corosync it
// accepts any id; the caller decides what an unknown id means.
func DecodeRequest(b []byte) (Request, error) {
	const msg = "quorum request"
	if len(b) < wire.RequestHeaderSize {
		return Request{}, derr(msg, "header", "need %d bytes, have %d", wire.RequestHeaderSize, len(b))
	}
	r := Request{ID: int32(le.Uint32(b[0:])), Size: int32(le.Uint32(b[8:]))}
	if int(r.Size) != len(b) {
		return r, derr(msg, "size", "header says %d bytes, message has %d", r.Size, len(b))
	}
	if r.ID == ReqTrackStart || r.ID == ReqModelGetType {
		if len(b) < RequestSizeWithArg {
			return r, derr(msg, argName(r.ID), "need %d bytes, have %d", RequestSizeWithArg, len(b))
		}
		r.Arg = le.Uint32(b[16:])
	}
	return r, nil
}

func argName(id int32) string {
	if id == ReqTrackStart {
		return "track_flags"
	}
	return "model"
}

// ResponseSize returns the wire size of the response with the given id:
// 32 for getquorate, gettype and model_gettype, 24 otherwise.
func ResponseSize(id int32) int {
	switch id {
	case ResGetQuorate, ResGetType, ResModelGetType:
		return ResponseSizeWithValue
	}
	return wire.ResponseHeaderSize
}

// AppendResponse appends a response with the given id, code and value
// (quorate or quorum_type; ignored for the 24-byte responses).
func AppendResponse(dst []byte, id int32, code corosync.Error, value uint32) []byte {
	n := ResponseSize(id)
	off := len(dst)
	dst = append(dst, make([]byte, n)...)
	b := dst[off:]
	wire.PutResponseHeader(b, id, code)
	if n == ResponseSizeWithValue {
		le.PutUint32(b[24:], value)
	}
	return dst
}

// Response is a decoded response to a request.
type Response struct {
	wire.ResponseHeader
	Value uint32 // quorate, or quorum_type; zero for 24-byte responses
}

// ResponseFor returns the response id the daemon uses for request id.
func ResponseFor(req int32) int32 {
	switch req {
	case ReqGetType:
		return ResGetType
	case ReqModelGetType:
		return ResModelGetType
	}
	return req
}

// DecodeResponse decodes the response to request reqID. A generic reject
// (id 0, 24 bytes, error != OK) is returned as a Response with that error;
// any other id or size mismatch is a wire.DecodeError.
func DecodeResponse(b []byte, reqID int32) (Response, error) {
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return Response{ResponseHeader: h}, err
	}
	r := Response{ResponseHeader: h}
	want := ResponseFor(reqID)
	if h.ID == 0 && len(b) == wire.ResponseHeaderSize && h.Error != corosync.OK {
		return r, nil // generic reject
	}
	if h.ID != want {
		return r, derr("response", "id", "got %d, want %d for request %d", h.ID, want, reqID)
	}
	if n := ResponseSize(want); n == ResponseSizeWithValue {
		if len(b) < n {
			if h.Error != corosync.OK {
				return r, nil // an error reply may omit the value
			}
			return r, derr("response", valueName(want), "need %d bytes, have %d", n, len(b))
		}
		r.Value = le.Uint32(b[24:])
	}
	return r, nil
}

func valueName(id int32) string {
	if id == ResGetQuorate {
		return "quorate"
	}
	return "quorum_type"
}

// RingID is corosync's ring identifier: the representative node and a sequence.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// Notification is a decoded event of any of the three kinds.
type Notification struct {
	ID      int32 // EvNotification, EvV1QuorumNotification or EvV1NodelistNotification
	Quorate bool  // quorum notifications only
	Ring    RingID
	// Members is the view list (quorum notifications) or the member list (nodelist).
	Members []uint32
	Joined  []uint32 // nodelist only
	Left    []uint32 // nodelist only
}

// readList reads n uint32 values at off; it checks the bound with 64-bit arithmetic.
func readList(b []byte, off int, n uint32, msg, field string) ([]uint32, int, error) {
	end := uint64(off) + 4*uint64(n)
	if end > uint64(len(b)) {
		return nil, off, derr(msg, field, "%d entries at offset %d need %d bytes, message has %d", n, off, end, len(b))
	}
	if n == 0 {
		return []uint32{}, off, nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = le.Uint32(b[off+4*i:])
	}
	return out, int(end), nil
}

// DecodeEvent decodes a notification from the event channel.
func DecodeEvent(b []byte) (Notification, error) {
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return Notification{}, err
	}
	n := Notification{ID: h.ID}
	switch h.ID {
	case EvNotification:
		const msg = "quorum notification (v0)"
		if len(b) < v0ListOff {
			return n, derr(msg, "view_list_entries", "need %d bytes, have %d", v0ListOff, len(b))
		}
		n.Quorate = le.Uint32(b[24:]) != 0
		n.Ring.Seq = le.Uint64(b[32:])
		n.Members, _, err = readList(b, v0ListOff, le.Uint32(b[40:]), msg, "view_list_entries")
	case EvV1QuorumNotification:
		const msg = "quorum notification (v1)"
		if len(b) < v1QuorumListOff {
			return n, derr(msg, "view_list_entries", "need %d bytes, have %d", v1QuorumListOff, len(b))
		}
		n.Quorate = le.Uint32(b[24:]) != 0
		n.Ring = RingID{NodeID: le.Uint32(b[32:]), Seq: le.Uint64(b[40:])}
		n.Members, _, err = readList(b, v1QuorumListOff, le.Uint32(b[48:]), msg, "view_list_entries")
	case EvV1NodelistNotification:
		const msg = "nodelist notification (v1)"
		if len(b) < nodelistListOff {
			return n, derr(msg, "left_list_entries", "need %d bytes, have %d", nodelistListOff, len(b))
		}
		n.Ring = RingID{NodeID: le.Uint32(b[24:]), Seq: le.Uint64(b[32:])}
		m, j, l := le.Uint32(b[40:]), le.Uint32(b[48:]), le.Uint32(b[56:])
		off := nodelistListOff
		if n.Members, off, err = readList(b, off, m, msg, "member_list_entries"); err != nil {
			return n, err
		}
		if n.Joined, off, err = readList(b, off, j, msg, "joined_list_entries"); err != nil {
			return n, err
		}
		n.Left, _, err = readList(b, off, l, msg, "left_list_entries")
	default:
		return n, derr("quorum event", "id", "unknown event id %d", h.ID)
	}
	if err != nil {
		return n, err
	}
	// corosync sizes every notification as sizeof(struct) + 4 per entry: the
	// lists plus one unused trailing word. Anything shorter was truncated.
	need := uint64(listOffset(h.ID)) + 4*uint64(len(n.Members)+len(n.Joined)+len(n.Left)) + 4
	if uint64(len(b)) < need {
		return n, derr(eventName(h.ID), "size", "message has %d bytes, its lists need %d (sizeof + 4 per entry)", len(b), need)
	}
	return n, nil
}

func listOffset(id int32) int {
	switch id {
	case EvNotification:
		return v0ListOff
	case EvV1QuorumNotification:
		return v1QuorumListOff
	}
	return nodelistListOff
}

func eventName(id int32) string {
	switch id {
	case EvNotification:
		return "quorum notification (v0)"
	case EvV1QuorumNotification:
		return "quorum notification (v1)"
	}
	return "nodelist notification (v1)"
}

func checkList(what string, l []uint32) error {
	if len(l) > MaxNodes {
		return fmt.Errorf("encode %s: %d nodes exceed the maximum of %d", what, len(l), MaxNodes)
	}
	return nil
}

// AppendEvent appends the wire form of n (whose ID selects the layout) to dst,
// sized as corosync sizes it (sizeof + 4 per entry, 4 trailing zero bytes).
func AppendEvent(dst []byte, n Notification) ([]byte, error) {
	for _, l := range [][]uint32{n.Members, n.Joined, n.Left} {
		if err := checkList("quorum event", l); err != nil {
			return dst, err
		}
	}
	q := uint32(0)
	if n.Quorate {
		q = 1
	}
	var b []byte
	switch n.ID {
	case EvNotification:
		dst, b = wire.Grow(dst, v0ListOff+4+4*len(n.Members))
		le.PutUint32(b[24:], q)
		le.PutUint64(b[32:], n.Ring.Seq)
		le.PutUint32(b[40:], uint32(len(n.Members)))
		putList(b[v0ListOff:], n.Members)
	case EvV1QuorumNotification:
		dst, b = wire.Grow(dst, v1QuorumListOff+4+4*len(n.Members))
		le.PutUint32(b[24:], q)
		le.PutUint32(b[32:], n.Ring.NodeID)
		le.PutUint64(b[40:], n.Ring.Seq)
		le.PutUint32(b[48:], uint32(len(n.Members)))
		putList(b[v1QuorumListOff:], n.Members)
	case EvV1NodelistNotification:
		dst, b = wire.Grow(dst, nodelistListOff+4+4*(len(n.Members)+len(n.Joined)+len(n.Left)))
		le.PutUint32(b[24:], n.Ring.NodeID)
		le.PutUint64(b[32:], n.Ring.Seq)
		le.PutUint32(b[40:], uint32(len(n.Members)))
		le.PutUint32(b[48:], uint32(len(n.Joined)))
		le.PutUint32(b[56:], uint32(len(n.Left)))
		off := putList(b[nodelistListOff:], n.Members)
		off += putList(b[nodelistListOff+off:], n.Joined)
		putList(b[nodelistListOff+off:], n.Left)
	default:
		return dst, fmt.Errorf("encode quorum event: unknown event id %d", n.ID)
	}
	wire.PutResponseHeader(b, n.ID, corosync.OK)
	return dst, nil
}

func putList(b []byte, l []uint32) int {
	for i, v := range l {
		le.PutUint32(b[4*i:], v)
	}
	return 4 * len(l)
}

// Requests is the quorum service's table (include/corosync/ipc_quorum.h).
var Requests = &wire.Requests{Service: "quorum", ByID: []wire.RequestInfo{
	ReqGetQuorate:   {Name: "GETQUORATE", Since: corosync.Version2_4},
	ReqTrackStart:   {Name: "TRACKSTART", Since: corosync.Version2_4},
	ReqTrackStop:    {Name: "TRACKSTOP", Since: corosync.Version2_4},
	ReqGetType:      {Name: "GETTYPE", Since: corosync.Version2_4},
	ReqModelGetType: {Name: "MODEL_GETTYPE", Since: corosync.Version3_1_0},
}}
