package vqwire

import (
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Request is a votequorum request. ID selects which fields are used:
//
//	ReqGetInfo             NodeID (0: the local node)
//	ReqSetExpected         ExpectedVotes
//	ReqSetVotes            NodeID (0: the quorum device), Votes
//	ReqTrackStart          Context, TrackFlags
//	ReqTrackStop           -
//	ReqQdeviceRegister     Name
//	ReqQdeviceUnregister   Name
//	ReqQdeviceUpdate       Name (the old name), NewName
//	ReqQdevicePoll         Name, CastVote, Ring
//	ReqQdeviceMasterWins   Name, Allow
//	ReqQdeviceSetExtraInfo ExtraInfo (empty: clear it)
//	ReqQdeviceGetExtraInfo NodeID
type Request struct {
	ID            int32
	NodeID        uint32
	Votes         uint32
	ExpectedVotes uint32
	Context       uint64
	TrackFlags    uint32
	Name          string
	NewName       string
	CastVote      bool
	Ring          RingID
	Allow         bool
	ExtraInfo     []byte
}

// RequestSize returns the wire size of request id (qdevice_set_extra_info
// adds its data), or 0 for an id corosync does not define.
func RequestSize(id int32) int {
	switch id {
	case ReqGetInfo:
		return GetInfoRequestSize
	case ReqSetExpected:
		return SetExpectedRequestSize
	case ReqSetVotes:
		return SetVotesRequestSize
	case ReqTrackStart:
		return TrackStartRequestSize
	case ReqTrackStop:
		return TrackStopRequestSize
	case ReqQdeviceRegister, ReqQdeviceUnregister:
		return RegisterRequestSize
	case ReqQdeviceUpdate:
		return UpdateRequestSize
	case ReqQdevicePoll:
		return PollRequestSize
	case ReqQdeviceMasterWins:
		return MasterWinsRequestSize
	case ReqQdeviceSetExtraInfo:
		return SetExtraInfoRequestSize
	case ReqQdeviceGetExtraInfo:
		return GetExtraInfoRequestSize
	}
	return 0
}

// RequestName returns corosync's name of request id ("getinfo",
// "qdevice_register", ...), or "request(N)".
func RequestName(id int32) string {
	switch id {
	case ReqGetInfo:
		return "getinfo"
	case ReqSetExpected:
		return "setexpected"
	case ReqSetVotes:
		return "setvotes"
	case ReqTrackStart:
		return "trackstart"
	case ReqTrackStop:
		return "trackstop"
	case ReqQdeviceRegister:
		return "qdevice_register"
	case ReqQdeviceUnregister:
		return "qdevice_unregister"
	case ReqQdeviceUpdate:
		return "qdevice_update"
	case ReqQdevicePoll:
		return "qdevice_poll"
	case ReqQdeviceMasterWins:
		return "qdevice_master_wins"
	case ReqQdeviceSetExtraInfo:
		return "qdevice_set_extra_info"
	case ReqQdeviceGetExtraInfo:
		return "qdevice_get_extra_info"
	}
	return fmt.Sprintf("request(%d)", id)
}

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// AppendRequest appends the encoding of r to dst. It refuses an unknown id
// (corosync.ErrInvalidParam) and qdevice names the daemon could not take
// safely (see CheckName); dst is returned unchanged with the error.
func AppendRequest(dst []byte, r Request) ([]byte, error) {
	n := RequestSize(r.ID)
	if err := validate(r, n); err != nil {
		return dst, err
	}
	if r.ID == ReqQdeviceSetExtraInfo {
		n += len(r.ExtraInfo)
	}
	dst, b := wire.Grow(dst, n)
	wire.PutRequestHeader(b, r.ID)
	switch r.ID {
	case ReqGetInfo, ReqQdeviceGetExtraInfo:
		le.PutUint32(b[16:], r.NodeID)
	case ReqQdeviceSetExtraInfo:
		le.PutUint32(b[16:], uint32(len(r.ExtraInfo)))
		copy(b[20:], r.ExtraInfo)
	case ReqSetExpected:
		le.PutUint32(b[16:], r.ExpectedVotes)
	case ReqSetVotes:
		le.PutUint32(b[16:], r.Votes) // votes first: opposite to the C API
		le.PutUint32(b[20:], r.NodeID)
	case ReqTrackStart:
		le.PutUint64(b[16:], r.Context)
		le.PutUint32(b[24:], r.TrackFlags)
	case ReqQdeviceRegister, ReqQdeviceUnregister:
		putName(b[16:], r.Name)
	case ReqQdeviceUpdate:
		putName(b[16:], r.Name)
		putName(b[16+NameFieldSize:], r.NewName)
	case ReqQdevicePoll:
		putName(b[16:], r.Name)
		le.PutUint32(b[272:], b2u(r.CastVote))
		le.PutUint32(b[280:], r.Ring.NodeID)
		le.PutUint64(b[288:], r.Ring.Seq)
	case ReqQdeviceMasterWins:
		putName(b[16:], r.Name)
		le.PutUint32(b[272:], b2u(r.Allow))
	}
	return dst, nil
}

// DecodeRequest decodes a request as the daemon sees it. Like corosync it
// accepts any id: an unknown one decodes to a Request with only ID set (the
// daemon answers it with a generic reject). A known request shorter than its
// layout, or a name field without a NUL, is a *wire.DecodeError; such a
// request must not be acted upon (the real daemon could abort on it).
// cast_vote and allow are true when non-zero, as the daemon reads them.
func DecodeRequest(b []byte) (Request, error) {
	h, err := wire.DecodeRequestHeader(b, "votequorum request")
	if err != nil {
		return Request{ID: h.ID}, err
	}
	r := Request{ID: h.ID}
	n := RequestSize(h.ID)
	if n == 0 {
		return r, nil
	}
	msg := "votequorum " + RequestName(h.ID) + " request"
	if err := need(b, n, msg, "size"); err != nil {
		return r, err
	}
	switch r.ID {
	case ReqGetInfo, ReqQdeviceGetExtraInfo:
		r.NodeID = le.Uint32(b[16:])
	case ReqQdeviceSetExtraInfo:
		// The daemon copies ei_size bytes from offset 20 once ei_size is
		// at most MaxExtraInfo, whatever the message's size: a fake daemon
		// must not read past the message either.
		ei := le.Uint32(b[16:])
		switch {
		case ei > MaxExtraInfo:
			err = wire.Errorf(msg, "ei_size", "%d bytes; at most %d", ei, MaxExtraInfo)
		case 20+uint64(ei) > uint64(len(b)):
			err = wire.Errorf(msg, "ei_size", "%d bytes from offset 20 overrun the %d-byte message", ei, len(b))
		default:
			r.ExtraInfo = b[20 : 20+ei : 20+ei]
		}
	case ReqSetExpected:
		r.ExpectedVotes = le.Uint32(b[16:])
	case ReqSetVotes:
		r.Votes = le.Uint32(b[16:])
		r.NodeID = le.Uint32(b[20:])
	case ReqTrackStart:
		r.Context = le.Uint64(b[16:])
		r.TrackFlags = le.Uint32(b[24:])
	case ReqQdeviceRegister, ReqQdeviceUnregister:
		r.Name, err = getName(b[16:], msg, "name")
	case ReqQdeviceUpdate:
		if r.Name, err = getName(b[16:], msg, "oldname"); err == nil {
			r.NewName, err = getName(b[16+NameFieldSize:], msg, "newname")
		}
	case ReqQdevicePoll:
		r.Name, err = getName(b[16:], msg, "name")
		r.CastVote = le.Uint32(b[272:]) != 0
		r.Ring = RingID{NodeID: le.Uint32(b[280:]), Seq: le.Uint64(b[288:])}
	case ReqQdeviceMasterWins:
		r.Name, err = getName(b[16:], msg, "name")
		r.Allow = le.Uint32(b[272:]) != 0
	}
	return r, err
}

// validate checks r before it is encoded. The operation name of its errors
// is built only on failure, so that a valid request allocates nothing.
func validate(r Request, size int) error {
	op := func() string { return "votequorum " + RequestName(r.ID) }
	if size == 0 {
		return corosync.NewError(op(), corosync.ErrInvalidParam, fmt.Errorf("unknown request id %d", r.ID))
	}
	switch r.ID {
	case ReqQdeviceRegister, ReqQdeviceUnregister, ReqQdevicePoll, ReqQdeviceMasterWins:
		if err := checkName(r.Name); err != nil {
			return CheckName(op(), "name", r.Name)
		}
	case ReqQdeviceUpdate:
		if err := checkName(r.Name); err != nil {
			return CheckName(op(), "oldname", r.Name)
		}
		if err := checkName(r.NewName); err != nil {
			return CheckName(op(), "newname", r.NewName)
		}
	case ReqSetExpected, ReqSetVotes:
		if err := checkValues("", r); err != nil {
			return checkValues(op(), r)
		}
	case ReqQdeviceSetExtraInfo:
		if len(r.ExtraInfo) > MaxExtraInfo {
			return corosync.NewError(op(), corosync.ErrInvalidParam, fmt.Errorf("field extra_info: %d bytes; at most %d", len(r.ExtraInfo), MaxExtraInfo))
		}
	}
	return nil
}

// MaxVotes is the largest expected_votes or per-node votes value the
// encoder sends. The daemon keeps quorum in a uint8: from 510 expected votes
// on, quorum = (expected+2)/2 wraps to a small number and a single node
// turns quorate (measured, SPEC.md "quorum wraps"); 0xffffffff overflows
// the arithmetic the same way.
const MaxVotes = 509

// checkValues refuses vote counts that corrupt the daemon's quorum
// arithmetic.
func checkValues(op string, r Request) error {
	switch {
	case r.ID == ReqSetExpected && (r.ExpectedVotes == 0 || r.ExpectedVotes > MaxVotes):
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("field expected_votes: %d; must be 1..%d (the daemon's quorum is 8-bit)", r.ExpectedVotes, MaxVotes))
	case r.ID == ReqSetVotes && r.Votes > MaxVotes:
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("field votes: %d; at most %d (the daemon's quorum is 8-bit)", r.Votes, MaxVotes))
	}
	return nil
}
