package cpgwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Response is a decoded answer to a request. ID selects which fields are
// used (only when Error is corosync.OK; the daemon leaves garbage in an
// error reply's body):
//
//	ResMembership       Members (reason fields are garbage on the wire; decoded as 0)
//	ResLocalGet         LocalNodeID
//	ResIterInitialize   Handle
//	ResIterNext         Entry
//
// The other answers (join, leave, iteration finalize, finalize, partial
// send, the generic reject, ZC) carry only Error.
type Response struct {
	ID          int32
	Error       corosync.Error
	Members     []Address
	LocalNodeID uint32
	Handle      uint64
	Entry       IterationEntry
}

// ResponseFor returns the id of the daemon's answer to request req: ResNone
// for MCAST (it has none) and for ids corosync 3.1.7 does not define (the
// daemon's generic reject then has id ResReject).
func ResponseFor(req int32) int32 {
	switch req {
	case ReqJoin:
		return ResJoin
	case ReqLeave:
		return ResLeave
	case ReqMembership:
		return ResMembership
	case ReqLocalGet:
		return ResLocalGet
	case ReqIterInitialize:
		return ResIterInitialize
	case ReqIterNext:
		return ResIterNext
	case ReqIterFinalize:
		return ResIterFinalize
	case ReqFinalize:
		return ResFinalize
	case ReqZCAlloc, ReqZCFree:
		return 0 // the 3.1.7 daemon reuses id 0 (and leaves error unset)
	case ReqZCExecute:
		return ResMcast
	case ReqPartialMcast:
		return ResPartialSend
	}
	return ResNone
}

// ResponseSize returns the wire size of response id as the daemon sends it.
func ResponseSize(id int32) int {
	switch id {
	case ResMembership:
		return MembershipResponseSize
	case ResLocalGet:
		return LocalGetResponseSize
	case ResIterInitialize:
		return IterInitResponseSize
	case ResIterNext:
		return IterNextResponseSize
	}
	return StatusResponseSize
}

// DecodeResponse decodes the answer to request reqID. A generic reject (id
// 0, 24 bytes, an error code) decodes to a Response carrying its error
// whatever reqID was. Any other id, a size mismatch, a short answer, a
// member count over the reply's capacity or a name length over MaxNameLen
// is a *wire.DecodeError.
func DecodeResponse(b []byte, reqID int32) (Response, error) {
	h, err := wire.DecodeResponseHeader(b)
	r := Response{ID: h.ID, Error: h.Error}
	if err != nil {
		return r, err
	}
	want := ResponseFor(reqID)
	msg := "cpg " + RequestName(reqID) + " response"
	if h.ID == ResReject && want != ResReject && h.Error != corosync.OK {
		// The generic reject of a request whose answer has another id.
		if len(b) != StatusResponseSize {
			return r, wire.Errorf(msg, "size", "a reject has %d bytes, got %d", StatusResponseSize, len(b))
		}
		return r, nil
	}
	if want == ResNone {
		return r, wire.Errorf(msg, "id", "got %d; request %d has no answer but the generic reject", h.ID, reqID)
	}
	if h.ID != want {
		return r, wire.Errorf(msg, "id", "got %d, want %d", h.ID, want)
	}
	if err := need(b, ResponseSize(want), msg, "size"); err != nil {
		return r, err
	}
	if h.Error != corosync.OK {
		return r, nil
	}
	switch want {
	case ResMembership:
		n := le.Uint32(b[24:])
		if n > MaxMembershipEntries {
			return r, wire.Errorf(msg, "member_count", "%d exceeds the array's %d entries", n, MaxMembershipEntries)
		}
		r.Members = make([]Address, n)
		for i := range r.Members {
			a := getAddr(b[32+AddressSize*i:])
			a.Reason = 0 // never set by the daemon
			r.Members[i] = a
		}
	case ResLocalGet:
		r.LocalNodeID = le.Uint32(b[24:])
	case ResIterInitialize:
		r.Handle = le.Uint64(b[24:])
	case ResIterNext:
		g, err := getName(b[24:], msg, "description.group")
		if err != nil {
			return r, err
		}
		r.Entry = IterationEntry{Group: g, NodeID: le.Uint32(b[160:]), PID: le.Uint32(b[164:])}
	}
	return r, nil
}

// AppendResponse appends the daemon's answer to request reqID with r's
// error and, when it is OK, r's fields (an error reply's body is zeroed).
// It refuses MCAST and unknown ids (they have no answer: use AppendReject),
// more than MaxMembershipEntries members, and a bad iteration group name.
func AppendResponse(dst []byte, reqID int32, r Response) ([]byte, error) {
	id := ResponseFor(reqID)
	if id == ResNone {
		return dst, fmt.Errorf("encode cpg %s response: the request has no answer", RequestName(reqID))
	}
	if r.Error == corosync.OK {
		switch id {
		case ResMembership:
			if len(r.Members) > MaxMembershipEntries {
				return dst, fmt.Errorf("encode cpg membership_get response: %d members exceed the reply's %d entries", len(r.Members), MaxMembershipEntries)
			}
		case ResIterNext:
			if checkName(r.Entry.Group) != nil {
				return dst, r.Entry.Group.Check("encode cpg iteration_next response")
			}
		}
	}
	dst, b := wire.Grow(dst, ResponseSize(id))
	wire.PutResponseHeader(b, id, r.Error)
	if r.Error != corosync.OK {
		return dst, nil
	}
	switch id {
	case ResMembership:
		le.PutUint32(b[24:], uint32(len(r.Members)))
		for i, a := range r.Members {
			a.Reason = 0
			putAddr(b[32+AddressSize*i:], a)
		}
	case ResLocalGet:
		le.PutUint32(b[24:], r.LocalNodeID)
	case ResIterInitialize:
		le.PutUint64(b[24:], r.Handle)
	case ResIterNext:
		putName(b[24:], r.Entry.Group)
		le.PutUint32(b[160:], r.Entry.NodeID)
		le.PutUint32(b[164:], r.Entry.PID)
	}
	return dst, nil
}

// AppendReject appends the daemon's generic answer to a request refused
// before its handler: id 0, 24 bytes, the given code (corosync sends
// CS_ERR_INVALID_PARAM for an unknown id, CS_ERR_TRY_AGAIN while it cannot
// queue to totem).
func AppendReject(dst []byte, code corosync.Error) []byte {
	dst, b := wire.Grow(dst, StatusResponseSize)
	wire.PutResponseHeader(b, ResReject, code)
	return dst
}
