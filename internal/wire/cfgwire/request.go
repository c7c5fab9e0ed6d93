package cfgwire

import (
	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Request is a cfg request. Which fields count depends on ID; the others
// are zero.
type Request struct {
	ID int32
	// NodeID is the node of KillNode, GetNodeAddrs (0: the local node) and
	// NodeStatusGet.
	NodeID uint32
	// Version is NodeStatusGet's structure version (NodeStatusV1).
	Version uint32
	// Reason is KillNode's reason, at most MaxReasonLen bytes, no NUL.
	Reason string
	// Flags is TryShutdown's flags.
	Flags ShutdownFlags
	// Reply is ReplyToShutdown's answer.
	Reply ShutdownReply
	// TrackFlags is TrackStart's flags (sent as one byte; the daemon ignores them).
	TrackFlags uint8
}

// RequestSize returns the wire size of request id, or 16 (a bare header)
// for ids corosync does not know.
func RequestSize(id int32) int {
	switch id {
	case ReqKillNode:
		return killNodeRequestSize
	case ReqTryShutdown, ReqReplyToShutdown, ReqGetNodeAddrs, ReqTrackStart:
		return argRequestSize
	case ReqNodeStatusGet:
		return nodeStatusRequestSize
	}
	return RequestHeaderSize
}

func requestName(id int32) string {
	switch id {
	case ReqRingStatusGet:
		return "ringstatusget request"
	case ReqRingReenable:
		return "ringreenable request"
	case ReqKillNode:
		return "killnode request"
	case ReqTryShutdown:
		return "tryshutdown request"
	case ReqReplyToShutdown:
		return "replytoshutdown request"
	case ReqGetNodeAddrs:
		return "get_node_addrs request"
	case ReqLocalGet:
		return "local_get request"
	case ReqReloadConfig:
		return "reload_config request"
	case ReqReopenLogFiles:
		return "reopen_log_files request"
	case ReqNodeStatusGet:
		return "nodestatusget request"
	case ReqTrackStart:
		return "trackstart request"
	case ReqTrackStop:
		return "trackstop request"
	}
	return "cfg request"
}

// AppendRequest appends the encoding of r to dst. It refuses unknown ids,
// a kill-node reason that is too long (CS_ERR_NAME_TOO_LONG, as libcfg) or
// holds a NUL, shutdown flags or replies corosync does not define, and a
// node status version other than 1 (CS_ERR_INVALID_PARAM, as libcfg).
// On error dst is returned unchanged.
func AppendRequest(dst []byte, r Request) ([]byte, error) {
	if r.ID < ReqRingStatusGet || r.ID > ReqTrackStop {
		return dst, encErr("request", corosync.ErrInvalidParam, "unknown request id %d", r.ID)
	}
	msg := requestName(r.ID)
	switch r.ID {
	case ReqTryShutdown:
		if r.Flags > ShutdownImmediate {
			return dst, encErr(msg, corosync.ErrInvalidParam, "unknown shutdown flags %d", uint32(r.Flags))
		}
	case ReqReplyToShutdown:
		if r.Reply > ShutdownYes {
			return dst, encErr(msg, corosync.ErrInvalidParam, "unknown shutdown reply %d", uint32(r.Reply))
		}
	case ReqNodeStatusGet:
		if r.Version != NodeStatusV1 {
			return dst, encErr(msg, corosync.ErrInvalidParam, "node status version %d (only %d exists)", r.Version, NodeStatusV1)
		}
	}
	off := len(dst)
	dst, b := wire.Grow(dst, RequestSize(r.ID))
	wire.PutRequestHeader(b, r.ID)
	switch r.ID {
	case ReqKillNode:
		le.PutUint32(b[16:], r.NodeID)
		if err := putCString(b[reasonValueOff:reasonValueOff+256], r.Reason, msg, "reason", corosync.ErrNameTooLong); err != nil {
			return dst[:off], err
		}
		le.PutUint16(b[reasonOff:], uint16(len(r.Reason)+1)) // strlen + 1, as libcfg
	case ReqTryShutdown:
		le.PutUint32(b[16:], uint32(r.Flags))
	case ReqReplyToShutdown:
		le.PutUint32(b[16:], uint32(r.Reply))
	case ReqGetNodeAddrs:
		le.PutUint32(b[16:], r.NodeID)
	case ReqTrackStart:
		b[16] = r.TrackFlags
	case ReqNodeStatusGet:
		le.PutUint32(b[16:], r.NodeID)
		le.PutUint32(b[24:], r.Version)
	}
	return dst, nil
}

// DecodeRequest decodes a request as the daemon sees it. Like corosync it
// accepts any id (an unknown one is a bare header; the caller answers it
// with AppendReject) and any version or flags value. The buffer must be
// exactly header.size bytes and hold the request's fields; a kill-node
// reason must be NUL-terminated within its 256 bytes (corosync prints it
// with %s).
func DecodeRequest(b []byte) (Request, error) {
	h, err := wire.DecodeRequestHeader(b, "cfg request")
	if err != nil {
		return Request{ID: h.ID}, err
	}
	r := Request{ID: h.ID}
	msg := requestName(h.ID)
	if need := RequestSize(h.ID); len(b) < need {
		return r, derr(msg, "size", "need %d bytes, have %d", need, len(b))
	}
	switch h.ID {
	case ReqKillNode:
		r.NodeID = le.Uint32(b[16:])
		v := b[reasonValueOff : reasonValueOff+256]
		s := cstring(v)
		if len(s) == len(v) {
			return r, derr(msg, "reason", "no NUL in the 256-byte value")
		}
		r.Reason = s
	case ReqTryShutdown:
		r.Flags = ShutdownFlags(le.Uint32(b[16:]))
	case ReqReplyToShutdown:
		r.Reply = ShutdownReply(le.Uint32(b[16:]))
	case ReqGetNodeAddrs:
		r.NodeID = le.Uint32(b[16:])
	case ReqTrackStart:
		r.TrackFlags = b[16]
	case ReqNodeStatusGet:
		r.NodeID = le.Uint32(b[16:])
		r.Version = le.Uint32(b[24:])
	}
	return r, nil
}
