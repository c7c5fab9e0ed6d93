// Package vqwire encodes and decodes the messages of corosync's votequorum
// IPC service (include/corosync/ipc_votequorum.h, corosync 3.1.7) in both
// directions: a client encodes requests and decodes responses and events, a
// fake daemon decodes requests and encodes responses and events.
//
// Every message starts with a libqb header whose int32 fields are each
// aligned to 8 bytes (package wire has the helpers): requests have a 16-byte
// header {id@0, size@8}, responses and events a 24-byte header {id@0, size@8,
// error@16}. Unlike the quorum service, votequorum's notification arrays are
// themselves 8-aligned, so each array starts exactly at the struct's sizeof
// and nothing trails it. Padding is written as zero and ignored when read (the
// daemon leaves stack garbage there). The measured layouts are in SPEC.md.
//
// Encoders refuse what the daemon could not take safely: a qdevice name must
// be 1..254 bytes without a NUL, because the daemon asserts strlen(name) <
// 255 on a field it does not bound (SPEC.md, "qdevice names").
//
// Decoders check the declared size against the buffer and every list length
// against what remains, and name the offending field in a *wire.DecodeError
// (errors.Is(err, corosync.ErrMessageError) holds). An event with an id this
// package does not know decodes to an Event whose Known method reports false,
// so a client can skip it: newer daemons add event ids (main's 7).
package vqwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

var le = binary.LittleEndian

// Request ids (MESSAGE_REQ_VOTEQUORUM_*). Corosync 3.1.7 has no
// qdevice_getinfo request: a node's qdevice state is part of getinfo's
// answer (Flags, QdeviceVotes, QdeviceName).
const (
	ReqGetInfo           int32 = 0
	ReqSetExpected       int32 = 1
	ReqSetVotes          int32 = 2
	ReqTrackStart        int32 = 3
	ReqTrackStop         int32 = 4
	ReqQdeviceRegister   int32 = 5
	ReqQdeviceUnregister int32 = 6
	ReqQdeviceUpdate     int32 = 7
	ReqQdevicePoll       int32 = 8
	ReqQdeviceMasterWins int32 = 9
	// corosync main only (see Requests).
	ReqQdeviceSetExtraInfo int32 = 10
	ReqQdeviceGetExtraInfo int32 = 11
)

// Response and event ids (MESSAGE_RES_VOTEQUORUM_*). Every request but
// getinfo is answered with ResStatus; the daemon's generic reject of an
// unknown request id is also id 0 (ResStatus) with CS_ERR_INVALID_PARAM.
// ResTrackStart is defined by the header but never sent.
const (
	ResStatus       int32 = 0
	ResGetInfo      int32 = 1
	ResTrackStart   int32 = 2
	EvQuorum        int32 = 3
	EvExpectedVotes int32 = 4
	EvNodelist      int32 = 5
	// corosync main only: the answer to qdevice_get_extra_info and the
	// extra info notification.
	ResGetExtraInfo int32 = 6
	EvExtraInfo     int32 = 7
)

// Track flags (CS_TRACK_*).
const (
	TrackCurrent     uint32 = 0x01
	TrackChanges     uint32 = 0x02
	TrackChangesOnly uint32 = 0x04
)

// QdeviceNodeID is the node id of the quorum device (VOTEQUORUM_QDEVICE_NODEID):
// setvotes(0) changes the device's votes, quorum notifications list the device
// as node 0. In getinfo, 0 means the local node instead.
const QdeviceNodeID uint32 = 0

// Sizes (x86_64 and every little-endian 64-bit corosync; SPEC.md).
const (
	RequestHeaderSize  = wire.RequestHeaderSize
	ResponseHeaderSize = wire.ResponseHeaderSize

	GetInfoRequestSize     = 24
	SetExpectedRequestSize = 24
	SetVotesRequestSize    = 24
	TrackStartRequestSize  = 32
	TrackStopRequestSize   = 16
	RegisterRequestSize    = 272 // also unregister
	UpdateRequestSize      = 528
	PollRequestSize        = 296
	MasterWinsRequestSize  = 280

	StatusResponseSize  = 24
	GetInfoResponseSize = 320

	// corosync main's extra info messages: each size plus the extra info.
	// The set request's data starts at 20 and the get answer's at 28, 4
	// bytes before the struct's end, and the header's size counts the
	// struct: 4 bytes trail the data.
	SetExtraInfoRequestSize  = 24
	GetExtraInfoRequestSize  = 24
	GetExtraInfoResponseSize = 32
	ExtraInfoEventSize       = 48
	// MaxExtraInfo is the most extra info a node's device may set
	// (VOTEQUORUM_QDEVICE_EXTRA_NODEINFO_MAXSIZE).
	MaxExtraInfo = 4096

	QuorumEventSize        = 48 // plus 8 per node
	NodelistEventSize      = 56 // plus 4 per node
	ExpectedVotesEventSize = 40

	// NameFieldSize is the size of every qdevice name field
	// (VOTEQUORUM_QDEVICE_MAX_NAME_LEN), NUL included.
	NameFieldSize = 255
	// MaxNameLen is the longest qdevice name that fits with its NUL.
	MaxNameLen = NameFieldSize - 1
)

// List limits of corosync 3.1.7 (PROCESSOR_COUNT_MAX = 384). Decoders accept
// longer lists if they fit in the message; encoders refuse them.
const (
	// MaxQuorumNodes is the longest quorum notification node list: every
	// node ever seen (384 + 1 spare slot + the local node's entry) plus the
	// quorum device.
	MaxQuorumNodes = 386
	// MaxNodelistNodes is the longest nodelist notification member list.
	MaxNodelistNodes = 384
)

// Flags is getinfo's flags word (VOTEQUORUM_INFO_*).
type Flags uint32

// The getinfo flag bits. TwoNode..AllowDownscale describe the cluster's
// configuration and Quorate the local view; the Qdevice bits belong to the
// node that was queried.
const (
	FlagTwoNode           Flags = 1
	FlagQuorate           Flags = 2
	FlagWaitForAll        Flags = 4
	FlagLastManStanding   Flags = 8
	FlagAutoTieBreaker    Flags = 16
	FlagAllowDownscale    Flags = 32
	FlagQdevice           Flags = 64 // a quorum device is registered
	FlagQdeviceAlive      Flags = 128
	FlagQdeviceCastVote   Flags = 256
	FlagQdeviceMasterWins Flags = 512
	// FlagQdeviceHasExtraInfo (corosync main): the queried node's device
	// set extra info.
	FlagQdeviceHasExtraInfo Flags = 1024
)

var flagNames = [...]string{
	"2Node", "Quorate", "WaitForAll", "LastManStanding", "AutoTieBreaker",
	"AllowDownscale", "Qdevice", "QdeviceAlive", "QdeviceCastVote", "QdeviceMasterWins",
	"QdeviceHasExtraInfo",
}

// Has reports whether every bit of f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// String lists the set flags in bit order, separated by spaces, with the
// names corosync-quorumtool prints on its "Flags:" line ("2Node Quorate
// WaitForAll LastManStanding AutoTieBreaker AllowDownscale Qdevice") and
// QdeviceAlive, QdeviceCastVote, QdeviceMasterWins for the bits it shows
// elsewhere. Unknown bits are printed in hex; no flag prints as "".
func (f Flags) String() string {
	var b strings.Builder
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(name)
		}
	}
	if rest := f &^ (1<<len(flagNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("0x" + strconv.FormatUint(uint64(rest), 16))
	}
	return b.String()
}

// NodeState is a node's state in getinfo and quorum notifications
// (VOTEQUORUM_NODESTATE_*). The quorum device's entry in a quorum
// notification has state 0 in corosync 3.1.7.
type NodeState uint32

// Node states.
const (
	NodeStateMember  NodeState = 1
	NodeStateDead    NodeState = 2
	NodeStateLeaving NodeState = 3
)

// String returns "member", "dead", "leaving", or "state(N)".
func (s NodeState) String() string {
	switch s {
	case NodeStateMember:
		return "member"
	case NodeStateDead:
		return "dead"
	case NodeStateLeaving:
		return "leaving"
	}
	return "state(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// Info is getinfo's answer about one node.
type Info struct {
	NodeID            uint32
	State             NodeState
	NodeVotes         uint32
	NodeExpectedVotes uint32
	HighestExpected   uint32
	// TotalVotes counts the votes of member nodes, plus the quorum device's
	// if the queried node has FlagQdeviceCastVote.
	TotalVotes   uint32
	Quorum       uint32
	Flags        Flags
	QdeviceVotes uint32
	QdeviceName  string // "" when no device is registered
}

// RingID is corosync's ring identifier: the representative node and a sequence.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// Node is an entry of a quorum notification.
type Node struct {
	NodeID uint32
	State  NodeState
}

// CheckName returns an error unless name can be sent as a qdevice name: 1 to
// 254 bytes (MaxNameLen) and no NUL byte. The error is a *corosync.OpError
// for op that names field and carries corosync.ErrNameTooLong for a long
// name or corosync.ErrInvalidParam otherwise. Corosync's daemon reads the
// name with strlen and asserts it is shorter than 255, so a name that
// filled the field would abort it.
func CheckName(op, field, name string) error {
	switch {
	case name == "":
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("field %s: empty qdevice name", field))
	case strings.IndexByte(name, 0) >= 0:
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("field %s: qdevice name contains a NUL byte", field))
	case len(name) > MaxNameLen:
		return corosync.NewError(op, corosync.ErrNameTooLong, fmt.Errorf("field %s: qdevice name of %d bytes; at most %d fit with the terminating NUL", field, len(name), MaxNameLen))
	}
	return nil
}

// checkName is CheckName's test without the error's text: nil if name can
// be sent.
func checkName(name string) error {
	if name == "" || strings.IndexByte(name, 0) >= 0 || len(name) > MaxNameLen {
		return errBadName
	}
	return nil
}

var errBadName = errors.New("bad qdevice name")

// putName writes name into a zeroed field of NameFieldSize bytes.
func putName(b []byte, name string) { copy(b[:NameFieldSize-1], name) }

// getName reads a NUL-terminated name from a NameFieldSize-byte field.
func getName(b []byte, msg, field string) (string, error) {
	f := b[:NameFieldSize]
	for i, c := range f {
		if c == 0 {
			return string(f[:i]), nil
		}
	}
	return "", wire.Errorf(msg, field, "no NUL in its %d bytes", NameFieldSize)
}

func need(b []byte, n int, msg, field string) error {
	if len(b) < n {
		return wire.Errorf(msg, field, "need %d bytes, have %d", n, len(b))
	}
	return nil
}

// Requests is the votequorum service's table of request ids and the
// release that introduced each. Ids 0-9 are the same in every release
// since 2.4. corosync main adds QDEVICE_SET_EXTRA_INFO (10) and
// QDEVICE_GET_EXTRA_INFO (11); no release has them yet, so they are sent
// only to a daemon the probe found to be main (wire.Unreleased).
var Requests = &wire.Requests{Service: "votequorum", ByID: []wire.RequestInfo{
	ReqGetInfo:             {Name: "GETINFO", Since: corosync.Version2_4},
	ReqSetExpected:         {Name: "SETEXPECTED", Since: corosync.Version2_4},
	ReqSetVotes:            {Name: "SETVOTES", Since: corosync.Version2_4},
	ReqTrackStart:          {Name: "TRACKSTART", Since: corosync.Version2_4},
	ReqTrackStop:           {Name: "TRACKSTOP", Since: corosync.Version2_4},
	ReqQdeviceRegister:     {Name: "QDEVICE_REGISTER", Since: corosync.Version2_4},
	ReqQdeviceUnregister:   {Name: "QDEVICE_UNREGISTER", Since: corosync.Version2_4},
	ReqQdeviceUpdate:       {Name: "QDEVICE_UPDATE", Since: corosync.Version2_4},
	ReqQdevicePoll:         {Name: "QDEVICE_POLL", Since: corosync.Version2_4},
	ReqQdeviceMasterWins:   {Name: "QDEVICE_MASTER_WINS", Since: corosync.Version2_4},
	ReqQdeviceSetExtraInfo: {Name: "QDEVICE_SET_EXTRA_INFO", Since: wire.Unreleased},
	ReqQdeviceGetExtraInfo: {Name: "QDEVICE_GET_EXTRA_INFO", Since: wire.Unreleased},
}}
