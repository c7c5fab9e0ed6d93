package cpgwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Request is a cpg request. ID selects which fields are used:
//
//	ReqJoin             Group, PID, Flags
//	ReqLeave            Group, PID
//	ReqMcast            Guarantee, Payload
//	ReqMembership       Group
//	ReqLocalGet         -
//	ReqIterInitialize   IterType, Group (IterOneGroup only)
//	ReqIterNext         Handle
//	ReqIterFinalize     Handle
//	ReqFinalize         -
//	ReqZCAlloc          MapSize, Path        (decoded only)
//	ReqZCFree           MapSize, ServerAddr  (decoded only)
//	ReqZCExecute        ServerAddr           (decoded only)
//	ReqPartialMcast     Guarantee, MsgLen, Type, Payload (the fragment)
//
// The zero-copy requests (9..11) are decoded, so a fake daemon can answer
// them, but never encoded: they make the root daemon open, truncate and
// unlink a path the client names, and abort on failure (SPEC.md).
type Request struct {
	ID        int32
	Group     Name
	PID       uint32
	Flags     uint32
	Guarantee Guarantee
	Payload   []byte // MCAST message or PARTIAL_MCAST fragment; aliases the input when decoded
	MsgLen    uint32 // PARTIAL_MCAST: length of the whole message
	Type      PartialType
	IterType  IterationType
	Handle    uint64
	// NameLength is the length field of a decoded request's group name as
	// sent. It can exceed MaxNameLen (the daemon answers a join with
	// CS_ERR_NAME_TOO_LONG); Group then holds the first MaxNameLen bytes.
	NameLength uint32
	MapSize    uint64
	Path       string
	ServerAddr uint64
}

// RequestName returns libcpg's name of request id ("join", "mcast",
// "partial_mcast", ...), or "request(N)".
func RequestName(id int32) string {
	switch id {
	case ReqJoin:
		return "join"
	case ReqLeave:
		return "leave"
	case ReqMcast:
		return "mcast"
	case ReqMembership:
		return "membership_get"
	case ReqLocalGet:
		return "local_get"
	case ReqIterInitialize:
		return "iteration_initialize"
	case ReqIterNext:
		return "iteration_next"
	case ReqIterFinalize:
		return "iteration_finalize"
	case ReqFinalize:
		return "finalize"
	case ReqZCAlloc:
		return "zc_alloc"
	case ReqZCFree:
		return "zc_free"
	case ReqZCExecute:
		return "zc_execute"
	case ReqPartialMcast:
		return "partial_mcast"
	}
	return fmt.Sprintf("request(%d)", id)
}

// RequestSize returns the wire size of the fixed part of request id (MCAST
// and PARTIAL_MCAST add their payload), or 0 for an id corosync 3.1.7 does
// not define.
func RequestSize(id int32) int {
	switch id {
	case ReqJoin:
		return JoinRequestSize
	case ReqLeave:
		return LeaveRequestSize
	case ReqMcast:
		return McastHeaderSize
	case ReqMembership:
		return MembershipRequestSize
	case ReqLocalGet:
		return LocalGetRequestSize
	case ReqIterInitialize:
		return IterInitRequestSize
	case ReqIterNext:
		return IterNextRequestSize
	case ReqIterFinalize:
		return IterFinalizeRequestSize
	case ReqFinalize:
		return FinalizeRequestSize
	case ReqZCAlloc:
		return ZCAllocRequestSize
	case ReqZCFree:
		return ZCFreeRequestSize
	case ReqZCExecute:
		return ZCExecuteRequestSize
	case ReqPartialMcast:
		return PartialMcastHeaderSize
	}
	return 0
}

// AppendRequest appends the encoding of r to dst. It refuses, with dst
// unchanged and a *corosync.OpError: an unknown id or a zero-copy request
// (ErrInvalidParam, ErrNotSupported), a bad group name (see Name.Check), join
// flags other than 0 or 1, a guarantee above 3, an iteration type outside
// 1..3 or a group given with another type than IterOneGroup (ErrInvalidParam,
// as libcpg), an MCAST payload over MaxMcastPayload (ErrTooBig), and a
// PARTIAL_MCAST fragment over MaxFragment (ErrTooBig), longer than MsgLen, or
// with a type outside 1..3 (ErrInvalidParam).
func AppendRequest(dst []byte, r Request) ([]byte, error) {
	if err := validate(r); err != nil {
		return dst, err
	}
	n := RequestSize(r.ID)
	switch r.ID {
	case ReqMcast, ReqPartialMcast:
		n += len(r.Payload)
	}
	dst, b := wire.Grow(dst, n)
	switch r.ID {
	case ReqMcast, ReqPartialMcast:
		wire.PutResponseHeader(b, r.ID, 0)
		le.PutUint32(b[24:], uint32(r.Guarantee))
		if r.ID == ReqMcast {
			le.PutUint32(b[32:], uint32(len(r.Payload)))
			copy(b[McastHeaderSize:], r.Payload)
			return dst, nil
		}
		le.PutUint32(b[32:], r.MsgLen)
		le.PutUint32(b[40:], uint32(len(r.Payload)))
		le.PutUint32(b[48:], uint32(r.Type))
		copy(b[PartialMcastHeaderSize:], r.Payload)
		return dst, nil
	}
	wire.PutRequestHeader(b, r.ID)
	switch r.ID {
	case ReqJoin:
		putName(b[16:], r.Group)
		le.PutUint32(b[152:], r.PID)
		le.PutUint32(b[160:], r.Flags)
	case ReqLeave:
		putName(b[16:], r.Group)
		le.PutUint32(b[152:], r.PID)
	case ReqMembership:
		putName(b[16:], r.Group)
	case ReqIterInitialize:
		if r.IterType == IterOneGroup {
			putName(b[16:], r.Group)
		}
		le.PutUint32(b[152:], uint32(r.IterType))
	case ReqIterNext, ReqIterFinalize:
		le.PutUint64(b[16:], r.Handle)
	}
	return dst, nil
}

// validate checks r before it is encoded. The operation name of its errors
// is built only on failure, so that a valid request allocates nothing.
func validate(r Request) error {
	op := func() string { return "cpg " + RequestName(r.ID) }
	inval := func(format string, args ...any) error {
		return corosync.NewError(op(), corosync.ErrInvalidParam, fmt.Errorf(format, args...))
	}
	switch r.ID {
	case ReqJoin, ReqLeave, ReqMembership:
		if checkName(r.Group) != nil {
			return r.Group.Check(op())
		}
		if r.ID == ReqJoin && r.Flags > ModelV1DeliverInitialTotemConf {
			return inval("join flags %#x; only 0 and %d exist", r.Flags, ModelV1DeliverInitialTotemConf)
		}
	case ReqMcast:
		if r.Guarantee > GuaranteeSafe {
			return inval("guarantee %d; 0..3 exist", r.Guarantee)
		}
		if len(r.Payload) > MaxMcastPayload {
			return corosync.NewError(op(), corosync.ErrTooBig, fmt.Errorf("message of %d bytes; at most %d in one mcast (send larger ones as partial_mcast fragments)", len(r.Payload), MaxMcastPayload))
		}
	case ReqPartialMcast:
		switch {
		case r.Guarantee > GuaranteeSafe:
			return inval("guarantee %d; 0..3 exist", r.Guarantee)
		case r.Type < PartialFirst || r.Type > PartialLast:
			return inval("fragment type %d; 1..3 exist", r.Type)
		case len(r.Payload) > MaxFragment:
			return corosync.NewError(op(), corosync.ErrTooBig, fmt.Errorf("fragment of %d bytes; at most %d", len(r.Payload), MaxFragment))
		case uint64(len(r.Payload)) > uint64(r.MsgLen):
			return inval("fragment of %d bytes in a message of %d", len(r.Payload), r.MsgLen)
		}
	case ReqIterInitialize:
		switch r.IterType {
		case IterOneGroup:
			if checkName(r.Group) != nil {
				return r.Group.Check(op())
			}
		case IterNameOnly, IterAll:
			if r.Group != "" {
				return inval("a group is given only with iteration type %d", IterOneGroup)
			}
		default:
			return inval("iteration type %d; 1..3 exist", r.IterType)
		}
	case ReqLocalGet, ReqIterNext, ReqIterFinalize, ReqFinalize:
	case ReqZCAlloc, ReqZCFree, ReqZCExecute:
		return corosync.NewError(op(), corosync.ErrNotSupported, fmt.Errorf("zero-copy requests are not sent: the daemon opens, truncates and unlinks the client's path as root and aborts on failure; use mcast"))
	default:
		return inval("unknown request id %d", r.ID)
	}
	return nil
}

// DecodeRequest decodes a request as the daemon sees it. Like corosync it
// accepts any id: an unknown one decodes to a Request with only ID set (the
// daemon answers it with a generic reject). A known request shorter than its
// layout is a *wire.DecodeError, and so is an MCAST whose msglen differs
// from its payload or a PARTIAL_MCAST whose fraglen does or exceeds msglen:
// the real daemon trusts those fields and would read past the message, so
// such a request must not be acted upon. Payload aliases b.
func DecodeRequest(b []byte) (Request, error) {
	h, err := wire.DecodeRequestHeader(b, "cpg request")
	r := Request{ID: h.ID}
	if err != nil {
		return r, err
	}
	n := RequestSize(h.ID)
	if n == 0 {
		return r, nil
	}
	msg := "cpg " + RequestName(h.ID) + " request"
	if err := need(b, n, msg, "size"); err != nil {
		return r, err
	}
	getReqName := func(off int) {
		r.NameLength = le.Uint32(b[off:])
		l := min(r.NameLength, MaxNameLen)
		r.Group = Name(b[off+8 : off+8+int(l)])
	}
	switch r.ID {
	case ReqJoin:
		getReqName(16)
		r.PID = le.Uint32(b[152:])
		r.Flags = le.Uint32(b[160:])
	case ReqLeave:
		getReqName(16)
		r.PID = le.Uint32(b[152:])
	case ReqMembership:
		getReqName(16)
	case ReqIterInitialize:
		r.IterType = IterationType(le.Uint32(b[152:]))
		if r.IterType == IterOneGroup {
			getReqName(16)
		}
	case ReqIterNext, ReqIterFinalize:
		r.Handle = le.Uint64(b[16:])
	case ReqMcast:
		r.Guarantee = Guarantee(le.Uint32(b[24:]))
		l := le.Uint32(b[32:])
		if uint64(l) != uint64(len(b)-McastHeaderSize) {
			return r, wire.Errorf(msg, "msglen", "%d, but the message carries %d bytes", l, len(b)-McastHeaderSize)
		}
		r.Payload = b[McastHeaderSize:]
	case ReqPartialMcast:
		r.Guarantee = Guarantee(le.Uint32(b[24:]))
		r.MsgLen = le.Uint32(b[32:])
		l := le.Uint32(b[40:])
		r.Type = PartialType(le.Uint32(b[48:]))
		if uint64(l) != uint64(len(b)-PartialMcastHeaderSize) {
			return r, wire.Errorf(msg, "fraglen", "%d, but the message carries %d bytes", l, len(b)-PartialMcastHeaderSize)
		}
		if l > r.MsgLen {
			return r, wire.Errorf(msg, "fraglen", "%d exceeds msglen %d", l, r.MsgLen)
		}
		r.Payload = b[PartialMcastHeaderSize:]
	case ReqZCAlloc:
		r.MapSize = le.Uint64(b[16:])
		p := b[24 : 24+zcPathLen]
		end := 0
		for end < len(p) && p[end] != 0 {
			end++
		}
		r.Path = string(p[:end])
	case ReqZCFree:
		r.MapSize = le.Uint64(b[16:])
		r.ServerAddr = le.Uint64(b[24:])
	case ReqZCExecute:
		r.ServerAddr = le.Uint64(b[16:])
	}
	return r, nil
}

// Fragment describes one PARTIAL_MCAST fragment of a large message: the
// bytes Payload[Off:Off+Len] of the whole message, sent with Type.
type Fragment struct {
	Off, Len int
	Type     PartialType
}

// Fragments splits a message of msglen bytes into PARTIAL_MCAST fragments
// of at most max bytes (MaxFragment if max <= 0 or larger), as libcpg does
// for messages over MaxAtomicMsgSize: FIRST, CONTINUED..., LAST, their
// lengths summing to msglen. A message of at most max bytes is one MCAST
// and has no fragments (nil). libcpg also ends a fragment at every iovec
// boundary; a single buffer has none.
func Fragments(msglen, max int) []Fragment {
	if max <= 0 || max > MaxFragment {
		max = MaxFragment
	}
	if msglen <= max {
		return nil
	}
	var out []Fragment
	for off := 0; off < msglen; off += max {
		f := Fragment{Off: off, Len: min(max, msglen-off), Type: PartialContinued}
		switch {
		case off == 0:
			f.Type = PartialFirst
		case off+f.Len == msglen:
			f.Type = PartialLast
		}
		out = append(out, f)
	}
	return out
}
