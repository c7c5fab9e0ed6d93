package vqwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Response is a decoded answer to a request.
type Response struct {
	ID    int32 // ResGetInfo, or ResStatus (which a generic reject also uses)
	Error corosync.Error
	// Info is getinfo's answer; set only when ID is ResGetInfo and Error is
	// corosync.OK (the daemon fills an error reply's body with garbage).
	Info Info
	// ExtraInfo is qdevice_get_extra_info's answer (corosync main); set
	// only when ID is ResGetExtraInfo and Error is corosync.OK, and empty
	// for a node whose device set none.
	ExtraInfo []byte
}

// ResponseFor returns the response id the daemon uses for request id.
func ResponseFor(req int32) int32 {
	switch req {
	case ReqGetInfo:
		return ResGetInfo
	case ReqQdeviceGetExtraInfo:
		return ResGetExtraInfo
	}
	return ResStatus
}

// DecodeResponse decodes the answer to request reqID. A generic reject (id
// 0, 24 bytes) decodes to a Response carrying its error whatever reqID was.
// Any other id, a size mismatch, a short getinfo answer or a qdevice name
// without a NUL is a *wire.DecodeError.
func DecodeResponse(b []byte, reqID int32) (Response, error) {
	h, err := wire.DecodeResponseHeader(b)
	r := Response{ID: h.ID, Error: h.Error}
	if err != nil {
		return r, err
	}
	want := ResponseFor(reqID)
	if h.ID == ResStatus {
		// A status reply, or the generic reject of any request.
		if want == ResStatus || h.Error != corosync.OK {
			return r, nil
		}
	}
	if h.ID != want {
		return r, wire.Errorf("votequorum "+RequestName(reqID)+" response", "id", "got %d, want %d", h.ID, want)
	}
	switch want {
	case ResGetExtraInfo:
		return decodeExtraInfoResponse(b, r)
	case ResGetInfo:
	default:
		return r, nil
	}
	const msg = "votequorum getinfo response"
	if err := need(b, GetInfoResponseSize, msg, "size"); err != nil {
		return r, err
	}
	if h.Error != corosync.OK {
		return r, nil // the body is uninitialised memory
	}
	r.Info = Info{
		NodeID:            le.Uint32(b[24:]),
		State:             NodeState(le.Uint32(b[28:])),
		NodeVotes:         le.Uint32(b[32:]),
		NodeExpectedVotes: le.Uint32(b[36:]),
		HighestExpected:   le.Uint32(b[40:]),
		TotalVotes:        le.Uint32(b[44:]),
		Quorum:            le.Uint32(b[48:]),
		Flags:             Flags(le.Uint32(b[52:])),
		QdeviceVotes:      le.Uint32(b[56:]),
	}
	r.Info.QdeviceName, err = getName(b[60:], msg, "qdevice_name")
	return r, err
}

// AppendResponse appends the daemon's answer to request reqID: a 320-byte
// getinfo reply carrying info (its body zeroed when code is not OK, where
// the daemon leaves garbage), an empty qdevice_get_extra_info reply (see
// AppendExtraInfoResponse), or a 24-byte status reply. It refuses an info
// whose QdeviceName could not be sent (see CheckName; "" is allowed).
func AppendResponse(dst []byte, reqID int32, code corosync.Error, info Info) ([]byte, error) {
	id := ResponseFor(reqID)
	if id == ResGetExtraInfo {
		return AppendExtraInfoResponse(dst, code, nil)
	}
	if id == ResStatus {
		dst, b := wire.Grow(dst, StatusResponseSize)
		wire.PutResponseHeader(b, id, code)
		return dst, nil
	}
	if code == corosync.OK && info.QdeviceName != "" {
		if err := CheckName("votequorum getinfo response", "qdevice_name", info.QdeviceName); err != nil {
			return dst, err
		}
	}
	dst, b := wire.Grow(dst, GetInfoResponseSize)
	wire.PutResponseHeader(b, id, code)
	if code != corosync.OK {
		return dst, nil
	}
	for i, v := range []uint32{info.NodeID, uint32(info.State), info.NodeVotes, info.NodeExpectedVotes,
		info.HighestExpected, info.TotalVotes, info.Quorum, uint32(info.Flags), info.QdeviceVotes} {
		le.PutUint32(b[24+4*i:], v)
	}
	putName(b[60:], info.QdeviceName)
	return dst, nil
}

// AppendReject appends the daemon's generic reject of an unknown request:
// id 0, 24 bytes, the given code (corosync sends CS_ERR_INVALID_PARAM).
func AppendReject(dst []byte, code corosync.Error) []byte {
	dst, b := wire.Grow(dst, StatusResponseSize)
	wire.PutResponseHeader(b, ResStatus, code)
	return dst
}

// String renders the info in one line, for logs and test failures.
func (i Info) String() string {
	return fmt.Sprintf("node %d %v votes %d expected %d highest %d total %d quorum %d flags [%v] qdevice %d %q",
		i.NodeID, i.State, i.NodeVotes, i.NodeExpectedVotes, i.HighestExpected, i.TotalVotes, i.Quorum, i.Flags, i.QdeviceVotes, i.QdeviceName)
}

// decodeExtraInfoResponse reads qdevice_get_extra_info's answer: ei_size at
// 24, the data at 28, and a size of 32 plus the data.
func decodeExtraInfoResponse(b []byte, r Response) (Response, error) {
	const msg = "votequorum qdevice_get_extra_info response"
	if err := need(b, GetExtraInfoResponseSize, msg, "size"); err != nil {
		return r, err
	}
	if r.Error != corosync.OK {
		return r, nil // ei_size is uninitialised memory
	}
	ei := le.Uint32(b[24:])
	switch {
	case ei > MaxExtraInfo:
		return r, wire.Errorf(msg, "ei_size", "%d bytes; at most %d", ei, MaxExtraInfo)
	case GetExtraInfoResponseSize+uint64(ei) != uint64(len(b)):
		return r, wire.Errorf(msg, "ei_size", "%d bytes, but the message has %d (want %d plus the data)", ei, len(b), GetExtraInfoResponseSize)
	}
	r.ExtraInfo = append([]byte{}, b[28:28+ei]...)
	return r, nil
}

// AppendExtraInfoResponse appends the daemon's answer to
// qdevice_get_extra_info: data (empty when the node's device set none) at
// offset 28 of a 32-byte struct, or, when code is not OK, the bare struct.
func AppendExtraInfoResponse(dst []byte, code corosync.Error, data []byte) ([]byte, error) {
	if len(data) > MaxExtraInfo {
		return dst, fmt.Errorf("encode votequorum qdevice_get_extra_info response: %d bytes of extra info exceed the maximum of %d", len(data), MaxExtraInfo)
	}
	if code != corosync.OK {
		data = nil
	}
	dst, b := wire.Grow(dst, GetExtraInfoResponseSize+len(data))
	wire.PutResponseHeader(b, ResGetExtraInfo, code)
	le.PutUint32(b[24:], uint32(len(data)))
	copy(b[28:], data)
	return dst, nil
}
