// Package cpgwire encodes and decodes the messages of corosync's cpg (closed
// process group) IPC service (include/corosync/ipc_cpg.h, corosync 3.1.7) in
// both directions: a client encodes requests and decodes responses and
// events; a fake daemon decodes requests and encodes responses and events.
//
// Every message starts with a libqb header whose int32 fields are each
// aligned to 8 bytes (package internal/wire): requests have a 16-byte header
// {id@0, size@8}, responses and events a 24-byte header {id@0, size@8,
// error@16}. MCAST and PARTIAL_MCAST requests are the exception: they begin
// with a 24-byte response header, so their body starts at 24. Padding is
// written as zero and ignored when read (the daemon and libcpg leave stack
// garbage there). Byte layouts, sizes and the daemon behaviour measured
// against corosync 3.1.7 are in SPEC.md.
//
// Group names are byte strings (type Name) of 1 to 128 bytes: the daemon
// compares length and bytes, so "crmd" and Pacemaker's "crmd\x00" are two
// different groups.
//
// Decoders check the declared size against the buffer and every count and
// length against what the buffer holds, name the offending field in a
// *wire.DecodeError (errors.Is(err, corosync.ErrMessageError) holds), and
// never panic. Payloads of decoded messages alias the input buffer. An event
// with an id this package does not know decodes to an Event whose Known
// method reports false, so a client can skip it. Encoders refuse what the
// daemon could not take safely, with an error carrying the corosync code the
// C library would return (ErrNameTooLong, ErrTooBig, ErrInvalidParam,
// ErrNotSupported).
package cpgwire

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

var le = binary.LittleEndian

// Request ids (enum req_cpg_types).
const (
	ReqJoin           int32 = 0
	ReqLeave          int32 = 1
	ReqMcast          int32 = 2
	ReqMembership     int32 = 3
	ReqLocalGet       int32 = 4
	ReqIterInitialize int32 = 5
	ReqIterNext       int32 = 6
	ReqIterFinalize   int32 = 7
	ReqFinalize       int32 = 8
	ReqZCAlloc        int32 = 9
	ReqZCFree         int32 = 10
	ReqZCExecute      int32 = 11
	ReqPartialMcast   int32 = 12
)

// Response and event ids (enum res_cpg_types). A request the daemon rejects
// before its handler runs (unknown id, TRY_AGAIN during a sync) is answered
// with id 0 (ResJoin's value).
const (
	ResJoin            int32 = 0
	ResLeave           int32 = 1
	ResMcast           int32 = 2 // only the answer of ZC_EXECUTE
	ResMembership      int32 = 3
	EvConfchg          int32 = 4
	EvDeliver          int32 = 5
	EvFlowControlState int32 = 6 // defined, never sent by corosync 3.x
	ResLocalGet        int32 = 7
	EvFlowControl      int32 = 8 // defined, never sent by corosync 3.x
	ResIterInitialize  int32 = 9
	ResIterNext        int32 = 10
	ResIterFinalize    int32 = 11
	ResFinalize        int32 = 12
	EvTotemConfchg     int32 = 13
	ResZCAlloc         int32 = 14 // defined, not used by the 3.1.7 daemon; main's MESSAGE_RES_CPG_NULL
	ResZCFree          int32 = 15 // defined, not used by the 3.1.7 daemon
	ResZCExecute       int32 = 16 // defined, not used by the 3.1.7 daemon
	EvPartialDeliver   int32 = 17
	ResPartialSend     int32 = 18
	// ResReject is the id of the daemon's generic answer to a request it
	// refuses before the handler (CS_ERR_INVALID_PARAM, CS_ERR_TRY_AGAIN).
	ResReject int32 = 0
	// ResNone is what ResponseFor returns for MCAST: it has no answer.
	ResNone int32 = -1
)

// Sizes of the fixed parts (x86_64 and every little-endian 64-bit corosync;
// SPEC.md).
const (
	RequestHeaderSize  = wire.RequestHeaderSize
	ResponseHeaderSize = wire.ResponseHeaderSize

	NameSize    = 136 // mar_cpg_name_t: length u32, pad, value[128]
	AddressSize = 24  // mar_cpg_address_t: nodeid, pid, reason, each in 8 bytes

	JoinRequestSize         = 168
	LeaveRequestSize        = 160
	McastHeaderSize         = 40 // plus the message
	MembershipRequestSize   = 152
	LocalGetRequestSize     = 16
	IterInitRequestSize     = 160
	IterNextRequestSize     = 24
	IterFinalizeRequestSize = 24
	FinalizeRequestSize     = 16
	ZCAllocRequestSize      = 152
	ZCFreeRequestSize       = 32
	ZCExecuteRequestSize    = 24
	PartialMcastHeaderSize  = 56 // plus the fragment

	StatusResponseSize     = 24 // join, leave, iteration finalize, finalize, partial send, reject
	MembershipResponseSize = 24 + 8 + AddressSize*MaxMembershipEntries
	LocalGetResponseSize   = 32
	IterInitResponseSize   = 32
	IterNextResponseSize   = 168

	ConfchgEventSize        = 184 // plus 24 per member, left and joined entry
	DeliverEventSize        = 184 // plus the message
	TotemConfchgEventSize   = 48  // plus 4 per member; the array starts at 44
	PartialDeliverEventSize = 200 // plus the fragment

	totemListOff = 44
	zcPathLen    = 128
)

// Limits of corosync 3.1.7.
const (
	// MaxNameLen is the longest group name the daemon accepts
	// (CPG_MAX_NAME_LENGTH). Pacemaker's names count their trailing NUL, so
	// its longest are 127 characters plus the NUL.
	MaxNameLen = 128
	// MaxMembershipEntries is the capacity of the membership reply's array
	// (PROCESSOR_COUNT_MAX).
	MaxMembershipEntries = 384
	// MaxListEntries is the longest member, left, joined or totem member
	// list an encoder produces: libcpg copies each into a 128-entry stack
	// array without a bounds check (CPG_MEMBERS_MAX). Decoders accept more
	// if it fits in the message.
	MaxListEntries = 128
	// MaxAtomicMsgSize is libcpg's cpg_max_atomic_msgsize_get(): the largest
	// message sent as one MCAST. Larger messages go as PARTIAL_MCAST
	// fragments of at most this size (SPEC.md, "Large messages").
	MaxAtomicMsgSize = 1047552
	// MaxMcastPayload is the largest MCAST message the encoder accepts. It is
	// libcpg's atomic size: the request and every receiver's DELIVER event
	// (184 + length) then fit a 1 MiB libqb ring with room to spare.
	MaxMcastPayload = MaxAtomicMsgSize
	// MaxFragment is the largest PARTIAL_MCAST fragment the encoder accepts.
	MaxFragment = MaxAtomicMsgSize
)

// Name is a cpg group name: 1 to MaxNameLen arbitrary bytes, compared as
// length plus bytes. Pacemaker's group names end in a NUL that counts in the
// length (CNameOf builds one).
type Name string

// CNameOf returns the name as Pacemaker and other C programs that send
// strlen+1 bytes join it: s followed by a NUL.
func CNameOf(s string) Name { return Name(s + "\x00") }

// String renders the name printable: bytes outside ASCII 0x20..0x7e are
// written \xNN, as the daemon's log does, and a backslash as \\.
func (n Name) String() string {
	var b strings.Builder
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Check returns nil if n can be sent as a group name: 1 to MaxNameLen bytes
// and no NUL except a trailing one. op names the operation in the
// *corosync.OpError, which carries corosync.ErrNameTooLong for a long name
// (as the daemon answers) and corosync.ErrInvalidParam otherwise.
//
// An empty name is accepted by the daemon but never removed from the
// cluster-wide process table when its connection closes; an inner NUL makes
// two names collide in the daemon's sync maps (keyed by C string).
func (n Name) Check(op string) error {
	if checkName(n) == nil {
		return nil
	}
	switch {
	case n == "":
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("empty group name (the daemon would never remove its members)"))
	case len(n) > MaxNameLen:
		return corosync.NewError(op, corosync.ErrNameTooLong, fmt.Errorf("group name of %d bytes; at most %d", len(n), MaxNameLen))
	}
	return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("group name %q has a NUL byte before its end", n.String()))
}

func checkName(n Name) error {
	if n == "" || len(n) > MaxNameLen {
		return errBad
	}
	if i := strings.IndexByte(string(n), 0); i >= 0 && i != len(n)-1 {
		return errBad
	}
	return nil
}

var errBad = fmt.Errorf("bad value")

// putName writes n into a zeroed NameSize-byte field.
func putName(b []byte, n Name) {
	le.PutUint32(b[0:], uint32(len(n)))
	copy(b[8:8+MaxNameLen], n)
}

// getName reads a name field of a daemon message; a length over
// MaxNameLen is a decode error (the daemon cannot produce one).
func getName(b []byte, msg, field string) (Name, error) {
	n := le.Uint32(b[0:])
	if n > MaxNameLen {
		return "", wire.Errorf(msg, field+".length", "%d exceeds %d", n, MaxNameLen)
	}
	return Name(b[8 : 8+n]), nil
}

// getNameAs is getName, returning known itself when the name equals it.
func getNameAs(b []byte, msg, field string, known Name) (Name, error) {
	n := le.Uint32(b[0:])
	if n > MaxNameLen {
		return "", wire.Errorf(msg, field+".length", "%d exceeds %d", n, MaxNameLen)
	}
	if string(b[8:8+n]) == string(known) {
		return known, nil
	}
	return Name(b[8 : 8+n]), nil
}

// Reason says why a process is in a confchg list (enum
// lib_cpg_confchg_reason; 0 in member lists).
type Reason uint32

// Confchg reasons.
const (
	ReasonUndefined Reason = 0
	ReasonJoin      Reason = 1 // cpg_join
	ReasonLeave     Reason = 2 // cpg_leave
	ReasonNodeDown  Reason = 3 // its node left the totem membership
	ReasonNodeUp    Reason = 4 // already in the group on a node that merged
	ReasonProcDown  Reason = 5 // closed or finalized without leaving
)

// String returns the reason's name ("join", "procdown", ...) or "reason(N)".
func (r Reason) String() string {
	switch r {
	case ReasonUndefined:
		return "undefined"
	case ReasonJoin:
		return "join"
	case ReasonLeave:
		return "leave"
	case ReasonNodeDown:
		return "nodedown"
	case ReasonNodeUp:
		return "nodeup"
	case ReasonProcDown:
		return "procdown"
	}
	return "reason(" + strconv.FormatUint(uint64(r), 10) + ")"
}

// Guarantee is the delivery guarantee of a message (cpg_guarantee_t). The
// daemon ignores it: every message is delivered in agreed order.
type Guarantee uint32

// Guarantees.
const (
	GuaranteeUnordered Guarantee = 0
	GuaranteeFIFO      Guarantee = 1
	GuaranteeAgreed    Guarantee = 2
	GuaranteeSafe      Guarantee = 3
)

// PartialType marks a fragment's place in a fragmented message.
type PartialType uint32

// Fragment types (LIBCPG_PARTIAL_*).
const (
	PartialFirst     PartialType = 1
	PartialContinued PartialType = 2
	PartialLast      PartialType = 3
)

// IterationType selects what an iteration lists (cpg_iteration_type_t).
type IterationType uint32

// Iteration types.
const (
	IterNameOnly IterationType = 1 // one entry per group, nodeid and pid 0
	IterOneGroup IterationType = 2 // the members of one group
	IterAll      IterationType = 3 // every (group, nodeid, pid)
)

// ModelV1DeliverInitialTotemConf is the only join flag
// (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF): the daemon sends the joiner one
// totem confchg with the current membership after its first group confchg.
const ModelV1DeliverInitialTotemConf uint32 = 1

// Address is a group member: a process on a node, and in confchg lists why
// it is there.
type Address struct {
	NodeID uint32
	PID    uint32
	Reason Reason
}

// RingID is corosync's ring identifier: the representative node and a
// sequence number.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// IterationEntry is one answer of an iteration: a group and, unless the
// iteration is IterNameOnly, one of its members.
type IterationEntry struct {
	Group  Name
	NodeID uint32
	PID    uint32
}

func putAddr(b []byte, a Address) {
	le.PutUint32(b[0:], a.NodeID)
	le.PutUint32(b[8:], a.PID)
	le.PutUint32(b[16:], uint32(a.Reason))
}

func getAddr(b []byte) Address {
	return Address{NodeID: le.Uint32(b[0:]), PID: le.Uint32(b[8:]), Reason: Reason(le.Uint32(b[16:]))}
}

func need(b []byte, n int, msg, field string) error {
	if len(b) < n {
		return wire.Errorf(msg, field, "need %d bytes, have %d", n, len(b))
	}
	return nil
}

// Requests is the cpg service's table of the request ids this client
// sends and the release that introduced each. Of the zero-copy ids 9-11
// (ZC_ALLOC, ZC_FREE, ZC_EXECUTE through 3.1.10; NULL, PAD1, PAD2 in main),
// ZC_ALLOC and ZC_EXECUTE are never sent (a failed ZC_ALLOC asserts in the
// daemon), and ZC_FREE only as the main-branch probe (AppendMainProbe),
// which every daemon answers without doing anything.
var Requests = &wire.Requests{Service: "cpg", ByID: []wire.RequestInfo{
	ReqZCFree:         {Name: "ZC_FREE", Since: corosync.Version2_4}, // address 0 only: AppendMainProbe
	ReqJoin:           {Name: "JOIN", Since: corosync.Version2_4},
	ReqLeave:          {Name: "LEAVE", Since: corosync.Version2_4},
	ReqMcast:          {Name: "MCAST", Since: corosync.Version2_4},
	ReqMembership:     {Name: "MEMBERSHIP", Since: corosync.Version2_4},
	ReqLocalGet:       {Name: "LOCAL_GET", Since: corosync.Version2_4},
	ReqIterInitialize: {Name: "ITERATIONINITIALIZE", Since: corosync.Version2_4},
	ReqIterNext:       {Name: "ITERATIONNEXT", Since: corosync.Version2_4},
	ReqIterFinalize:   {Name: "ITERATIONFINALIZE", Since: corosync.Version2_4},
	ReqFinalize:       {Name: "FINALIZE", Since: corosync.Version2_4},
	ReqPartialMcast:   {Name: "PARTIAL_MCAST", Since: corosync.Version2_4},
}}
