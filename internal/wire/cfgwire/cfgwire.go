package cfgwire

import (
	"encoding/binary"
	"fmt"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

var le = binary.LittleEndian

// Request ids (enum req_cfg_types, ipc_cfg.h).
const (
	ReqRingStatusGet   int32 = 0
	ReqRingReenable    int32 = 1
	ReqKillNode        int32 = 2
	ReqTryShutdown     int32 = 3
	ReqReplyToShutdown int32 = 4
	ReqGetNodeAddrs    int32 = 5
	ReqLocalGet        int32 = 6
	ReqReloadConfig    int32 = 7
	ReqReopenLogFiles  int32 = 8
	ReqNodeStatusGet   int32 = 9
	ReqTrackStart      int32 = 10
	ReqTrackStop       int32 = 11
)

// Response and event ids (enum res_lib_cfg_types). They differ from the
// request ids. A rejected request (unknown id, or flow control) is answered
// with id 0 (ResRingStatusGet's value), 24 bytes, and an error code.
const (
	ResRingStatusGet   int32 = 0
	ResRingReenable    int32 = 1
	ResTrackStart      int32 = 2
	ResTrackStop       int32 = 3
	ResKillNode        int32 = 8
	ResTryShutdown     int32 = 9
	EvTestShutdown     int32 = 10 // the shutdown request sent to trackers
	ResGetNodeAddrs    int32 = 11
	ResLocalGet        int32 = 12
	ResReplyToShutdown int32 = 13
	ResReloadConfig    int32 = 14
	ResReopenLogFiles  int32 = 15
	ResNodeStatusGet   int32 = 16
)

// Limits of the wire structures.
const (
	// MaxInterfaces is the size of the ring status arrays (CFG_MAX_INTERFACES).
	MaxInterfaces = 16
	// InterfaceNameLen and InterfaceStatusLen are the sizes of one ring
	// status name and status string, NUL included.
	InterfaceNameLen   = 128
	InterfaceStatusLen = 512
	// MaxLinks is the number of knet link slots in a node status (CFG_MAX_LINKS).
	MaxLinks = 8
	// HostLen is the size of a link's address strings, NUL included (CFG_MAX_HOST_LEN).
	HostLen = 256
	// MaxReasonLen is the longest kill-node reason in bytes: cs_name_t holds
	// 256 bytes and the daemon prints the reason as a NUL-terminated string.
	MaxReasonLen = 255
	// AddrLen is the size of one address blob in a node address reply (TOTEMIP_ADDRLEN).
	AddrLen = 16
	// MaxAddrs is the most addresses an encoder writes in one node address
	// reply: a node has at most INTERFACE_MAX (8) links. Decoders accept
	// whatever fits in the message.
	MaxAddrs = 8
	// NodeStatusV1 is the only node status version (CFG_NODE_STATUS_V1).
	NodeStatusV1 uint32 = 1
)

// Message sizes.
const (
	RequestHeaderSize  = wire.RequestHeaderSize
	ResponseHeaderSize = wire.ResponseHeaderSize
	// MaxRequestSize is the size of the largest request (kill_node).
	MaxRequestSize = killNodeRequestSize

	killNodeRequestSize   = 288
	argRequestSize        = 24 // tryshutdown, replytoshutdown, get_node_addrs, trackstart
	nodeStatusRequestSize = 32

	ringStatusResponseSize = 10272
	ringNamesOff           = 32
	ringStatusOff          = ringNamesOff + MaxInterfaces*InterfaceNameLen // 2080
	valueResponseSize      = 32                                            // local_get, nodestatus error, event
	nodeAddrsHeaderSize    = 32
	nodeStatusResponseSize = 4200
	nodeStatusOff          = 24
	linkStatusOff          = nodeStatusOff + 16
	linkStatusSize         = 520
	reasonOff              = 24
	reasonValueOff         = 26
)

// Address families as the daemon sends them (Linux values).
const (
	AFInet  uint32 = 2
	AFInet6 uint32 = 10
)

// ShutdownFlags says how a shutdown request treats the trackers' answers
// (corosync_cfg_shutdown_flags_t).
type ShutdownFlags uint32

// Shutdown flags.
const (
	// ShutdownRequest asks every tracker; any NO (or no answer before
	// cfg.shutdown_timeout) refuses the shutdown with CS_ERR_BUSY.
	ShutdownRequest ShutdownFlags = 0
	// ShutdownRegardless asks every tracker, waits for the answers or the
	// timeout, then shuts down whatever they said.
	ShutdownRegardless ShutdownFlags = 1
	// ShutdownImmediate shuts down at once without asking.
	ShutdownImmediate ShutdownFlags = 2
)

// String names the flags as corosync does.
func (f ShutdownFlags) String() string {
	switch f {
	case ShutdownRequest:
		return "REQUEST"
	case ShutdownRegardless:
		return "REGARDLESS"
	case ShutdownImmediate:
		return "IMMEDIATE"
	}
	return fmt.Sprintf("ShutdownFlags(%d)", uint32(f))
}

// ShutdownReply is a tracker's answer to a shutdown request
// (corosync_cfg_shutdown_reply_flags_t). The daemon counts any non-zero
// value as yes; there is no "immediate" reply in corosync.
type ShutdownReply uint32

// Shutdown replies.
const (
	ShutdownNo  ShutdownReply = 0
	ShutdownYes ShutdownReply = 1
)

// String returns "NO", "YES", or the number.
func (r ShutdownReply) String() string {
	switch r {
	case ShutdownNo:
		return "NO"
	case ShutdownYes:
		return "YES"
	}
	return fmt.Sprintf("ShutdownReply(%d)", uint32(r))
}

func derr(msg, field, format string, args ...any) error {
	return wire.Errorf(msg, field, format, args...)
}

// encErr is an encoder's refusal, carrying a corosync code.
func encErr(msg string, code corosync.Error, format string, args ...any) error {
	return corosync.NewError("cfg encode "+msg, code, fmt.Errorf(format, args...))
}

// cstring returns the bytes of b up to its first NUL, or all of b when it
// has none (the daemon's strings are NUL-terminated; a missing NUL is taken
// as a string filling the whole field).
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// putCString writes s NUL-terminated into field, refusing what does not fit
// or contains a NUL.
func putCString(field []byte, s, msg, name string, code corosync.Error) error {
	if len(s) >= len(field) {
		return encErr(msg, code, "%s is %d bytes, at most %d fit", name, len(s), len(field)-1)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return encErr(msg, corosync.ErrInvalidParam, "%s contains a NUL byte at %d", name, i)
		}
	}
	copy(field, s)
	return nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// Requests is the cfg service's table of request ids and the release that
// introduced each (include/corosync/ipc_cfg.h of every release). Id 8 was
// CRYPTO_SET in corosync 2.x and is REOPEN_LOG_FILES since 3.0: it is
// sent only to 3.0 and later, never to a 2.x daemon. NODESTATUSGET,
// TRACKSTART and TRACKSTOP arrived in 3.1.1.
var Requests = &wire.Requests{Service: "cfg", ByID: []wire.RequestInfo{
	ReqRingStatusGet:   {Name: "RINGSTATUSGET", Since: corosync.Version2_4},
	ReqRingReenable:    {Name: "RINGREENABLE", Since: corosync.Version2_4},
	ReqKillNode:        {Name: "KILLNODE", Since: corosync.Version2_4},
	ReqTryShutdown:     {Name: "TRYSHUTDOWN", Since: corosync.Version2_4},
	ReqReplyToShutdown: {Name: "REPLYTOSHUTDOWN", Since: corosync.Version2_4},
	ReqGetNodeAddrs:    {Name: "GET_NODE_ADDRS", Since: corosync.Version2_4},
	ReqLocalGet:        {Name: "LOCAL_GET", Since: corosync.Version2_4},
	ReqReloadConfig:    {Name: "RELOAD_CONFIG", Since: corosync.Version2_4},
	ReqReopenLogFiles:  {Name: "REOPEN_LOG_FILES", Since: corosync.Version3_0},
	ReqNodeStatusGet:   {Name: "NODESTATUSGET", Since: corosync.Version3_1_1},
	ReqTrackStart:      {Name: "TRACKSTART", Since: corosync.Version3_1_1},
	ReqTrackStop:       {Name: "TRACKSTOP", Since: corosync.Version3_1_1},
}}
