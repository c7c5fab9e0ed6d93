package cfgwire

import (
	"net"
	"net/netip"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
)

// Response is a decoded cfg response. Its body fields are filled only when
// Error is CS_OK: on error the daemon leaves them uninitialised.
type Response struct {
	ID    int32
	Error corosync.Error
	// Reject is set for the generic 24-byte answer with id 0 that corosync
	// sends instead of the real response: CS_ERR_INVALID_PARAM for an
	// unknown request id, CS_ERR_TRY_AGAIN under flow control or during a
	// sync.
	Reject bool

	// Rings is the ring status (ringstatusget): one entry per configured
	// link of the local node.
	Rings []RingInterface
	// LocalNodeID is local_get's node id.
	LocalNodeID uint32
	// NodeStatus is nodestatusget's V1 status.
	NodeStatus *NodeStatus
	// Addrs is get_node_addrs' answer.
	Addrs *NodeAddrs
}

// RingInterface is one entry of the old ring status answer. On knet, Name
// is "<link number> <local address>" and Status has one character per
// knet host in node id order: 'n' for the local node, '0'+(enabled |
// connected<<1 | dynconnected<<2) for the others, 'd' when that host has no
// such link, '?' on failure (see SPEC.md).
type RingInterface struct {
	Name   string
	Status string
}

// NodeStatus is struct corosync_cfg_node_status_v1.
type NodeStatus struct {
	Version   uint32 // NodeStatusV1
	NodeID    uint32 // echo of the requested node id
	Reachable bool
	Remote    bool
	External  bool
	// The onwire fields are always 0 with Debian 12's corosync (built
	// without HAVE_KNET_ONWIRE_VER).
	OnwireMin uint8
	OnwireMax uint8
	OnwireVer uint8
	// Links is indexed by knet link number; unconfigured links are zero.
	Links [MaxLinks]LinkStatus
}

// LinkStatus is struct corosync_knet_link_status_v1.
type LinkStatus struct {
	Enabled      bool
	Connected    bool
	DynConnected bool
	MTU          uint32
	Src          string // local address of the link, as knet prints it
	Dst          string // remote address
}

// NodeAddrs is get_node_addrs' answer: the node's configured (nodelist)
// addresses, one per link.
type NodeAddrs struct {
	// Family is AFInet or AFInet6 (the family of the node's first interface).
	Family uint32
	// Addrs are the addresses the daemon counted (num_addrs).
	Addrs []netip.Addr
	// Slots is the number of 16-byte entries the message has room for: the
	// node's configured interfaces. corosync 3.1.7 skips IPv6 addresses
	// whose first 16-bit group is zero (::1, ::ffff:a.b.c.d), so Slots can
	// exceed len(Addrs); the extra entries are garbage. When encoding, zero
	// means len(Addrs).
	Slots int
}

// IPs returns the addresses as net.IP values (4 bytes for IPv4).
func (a *NodeAddrs) IPs() []net.IP {
	out := make([]net.IP, len(a.Addrs))
	for i, ad := range a.Addrs {
		out[i] = net.IP(ad.AsSlice())
	}
	return out
}

// ResReloadConfig2x is the id corosync 2.x answers RELOAD_CONFIG with: its
// response enum has CRYPTO_SET at 14, so RELOAD_CONFIG is 15 there.
const ResReloadConfig2x int32 = 15

// ResponseForVersion is ResponseFor on a daemon of release v.
func ResponseForVersion(req int32, v corosync.Version) int32 {
	if req == ReqReloadConfig && !v.AtLeast(corosync.Version3_0) {
		return ResReloadConfig2x
	}
	return ResponseFor(req)
}

// ResponseFor returns the response id corosync 3.x uses for request id, or
// -1 for an unknown request.
func ResponseFor(req int32) int32 {
	switch req {
	case ReqRingStatusGet:
		return ResRingStatusGet
	case ReqRingReenable:
		return ResRingReenable
	case ReqKillNode:
		return ResKillNode
	case ReqTryShutdown:
		return ResTryShutdown
	case ReqReplyToShutdown:
		return ResReplyToShutdown
	case ReqGetNodeAddrs:
		return ResGetNodeAddrs
	case ReqLocalGet:
		return ResLocalGet
	case ReqReloadConfig:
		return ResReloadConfig
	case ReqReopenLogFiles:
		return ResReopenLogFiles
	case ReqNodeStatusGet:
		return ResNodeStatusGet
	case ReqTrackStart:
		return ResTrackStart
	case ReqTrackStop:
		return ResTrackStop
	}
	return -1
}

func responseName(id int32) string {
	switch id {
	case ResRingStatusGet:
		return "ringstatusget response"
	case ResRingReenable:
		return "ringreenable response"
	case ResTrackStart:
		return "trackstart response"
	case ResTrackStop:
		return "trackstop response"
	case ResKillNode:
		return "killnode response"
	case ResTryShutdown:
		return "tryshutdown response"
	case ResGetNodeAddrs:
		return "get_node_addrs response"
	case ResLocalGet:
		return "local_get response"
	case ResReplyToShutdown:
		return "replytoshutdown response"
	case ResReloadConfig:
		return "reload_config response"
	case ResReopenLogFiles:
		return "reopen_log_files response"
	case ResNodeStatusGet:
		return "nodestatusget response"
	}
	return "cfg response"
}

// ResponseSize returns the size of a successful response with the given
// id: 10272 for ringstatusget, 4200 for nodestatusget, 32 for local_get,
// 32+16·n for get_node_addrs with n slots (use 32 here), 24 otherwise.
func ResponseSize(id int32) int {
	switch id {
	case ResRingStatusGet:
		return ringStatusResponseSize
	case ResNodeStatusGet:
		return nodeStatusResponseSize
	case ResLocalGet, ResGetNodeAddrs:
		return valueResponseSize
	}
	return ResponseHeaderSize
}

// errorResponseSize is the size corosync 3.1.7 uses for an error answer.
func errorResponseSize(id int32) int {
	switch id {
	case ResRingStatusGet:
		return ringStatusResponseSize
	case ResNodeStatusGet, ResGetNodeAddrs, ResLocalGet:
		return valueResponseSize
	}
	return ResponseHeaderSize
}

// AppendReject appends the generic 24-byte answer (id 0) with code.
func AppendReject(dst []byte, code corosync.Error) []byte {
	dst, b := wire.Grow(dst, ResponseHeaderSize)
	wire.PutResponseHeader(b, 0, code)
	return dst
}

// DecodeResponse decodes the response to request reqID. A generic reject
// (id 0, 24 bytes, error not CS_OK) is accepted for every request and
// returned with Reject set. Bodies are decoded only for CS_OK; an error
// answer yields ID and Error alone.
func DecodeResponse(b []byte, reqID int32) (Response, error) {
	want := ResponseFor(reqID)
	if want < 0 {
		return Response{}, derr("cfg response", "request id", "unknown request id %d", reqID)
	}
	msg := responseName(want)
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return Response{ID: h.ID, Error: h.Error}, err
	}
	r := Response{ID: h.ID, Error: h.Error}
	if h.ID == 0 && len(b) == ResponseHeaderSize && h.Error != corosync.OK {
		r.Reject = true
		return r, nil
	}
	if h.ID != want {
		return r, derr(msg, "id", "got %d, want %d", h.ID, want)
	}
	if h.Error != corosync.OK {
		return r, nil
	}
	if need := ResponseSize(want); len(b) < need {
		return r, derr(msg, "size", "need %d bytes, have %d", need, len(b))
	}
	switch want {
	case ResRingStatusGet:
		r.Rings, err = decodeRings(b, msg)
	case ResLocalGet:
		r.LocalNodeID = le.Uint32(b[24:])
	case ResNodeStatusGet:
		r.NodeStatus, err = decodeNodeStatus(b, msg)
	case ResGetNodeAddrs:
		r.Addrs, err = decodeAddrs(b, msg)
	}
	return r, err
}

func decodeRings(b []byte, msg string) ([]RingInterface, error) {
	n := le.Uint32(b[24:])
	if n > MaxInterfaces {
		return nil, derr(msg, "interface_count", "%d, at most %d", n, MaxInterfaces)
	}
	rings := make([]RingInterface, n)
	for i := range rings {
		name := b[ringNamesOff+i*InterfaceNameLen:][:InterfaceNameLen]
		status := b[ringStatusOff+i*InterfaceStatusLen:][:InterfaceStatusLen]
		rings[i] = RingInterface{Name: cstring(name), Status: cstring(status)}
	}
	return rings, nil
}

func decodeNodeStatus(b []byte, msg string) (*NodeStatus, error) {
	ns := new(NodeStatus)
	if err := decodeNodeStatusInto(b, msg, ns); err != nil {
		return nil, err
	}
	return ns, nil
}

// DecodeNodeStatusInto decodes a nodestatusget response into ns without
// allocating a Response. It returns the daemon's code: when it is not
// CS_OK (including a generic reject) ns is left unchanged. A link address
// equal to the one already in ns at the same place keeps ns's string, so
// decoding repeatedly into the same ns allocates nothing while the
// addresses stay the same. On a decode error ns may be partly written.
func DecodeNodeStatusInto(b []byte, ns *NodeStatus) (corosync.Error, error) {
	const msg = "nodestatusget response"
	h, err := wire.DecodeResponseHeader(b)
	if err != nil {
		return h.Error, err
	}
	if h.ID == 0 && len(b) == ResponseHeaderSize && h.Error != corosync.OK {
		return h.Error, nil
	}
	if h.ID != ResNodeStatusGet {
		return h.Error, derr(msg, "id", "got %d, want %d", h.ID, ResNodeStatusGet)
	}
	if h.Error != corosync.OK {
		return h.Error, nil
	}
	if len(b) < nodeStatusResponseSize {
		return h.Error, derr(msg, "size", "need %d bytes, have %d", nodeStatusResponseSize, len(b))
	}
	return h.Error, decodeNodeStatusInto(b, msg, ns)
}

// decodeNodeStatusInto decodes the body of a CS_OK nodestatusget response
// of at least nodeStatusResponseSize bytes, reusing ns's strings.
func decodeNodeStatusInto(b []byte, msg string, ns *NodeStatus) error {
	s := b[nodeStatusOff:]
	if v := le.Uint32(s[0:]); v != NodeStatusV1 {
		return derr(msg, "version", "%d, want %d", v, NodeStatusV1)
	}
	ns.Version = NodeStatusV1
	ns.NodeID = le.Uint32(s[4:])
	ns.Reachable, ns.Remote, ns.External = s[8] != 0, s[9] != 0, s[10] != 0
	ns.OnwireMin, ns.OnwireMax, ns.OnwireVer = s[11], s[12], s[13]
	for i := range ns.Links {
		l := b[linkStatusOff+i*linkStatusSize:][:linkStatusSize]
		ls := &ns.Links[i]
		ls.Enabled, ls.Connected, ls.DynConnected = l[0] != 0, l[1] != 0, l[2] != 0
		ls.MTU = le.Uint32(l[4:])
		ls.Src = reuseCString(l[8:8+HostLen], ls.Src)
		ls.Dst = reuseCString(l[8+HostLen:8+2*HostLen], ls.Dst)
	}
	return nil
}

// reuseCString is cstring(b), returning prev when it holds the same bytes.
func reuseCString(b []byte, prev string) string {
	n := len(b)
	for i, c := range b {
		if c == 0 {
			n = i
			break
		}
	}
	if string(b[:n]) == prev { // compared without a copy
		return prev
	}
	return string(b[:n])
}

func decodeAddrs(b []byte, msg string) (*NodeAddrs, error) {
	a := &NodeAddrs{Family: le.Uint32(b[24:])}
	n := le.Uint32(b[28:])
	body := len(b) - nodeAddrsHeaderSize
	if body%AddrLen != 0 {
		return nil, derr(msg, "size", "%d bytes after the header is not a multiple of %d", body, AddrLen)
	}
	a.Slots = body / AddrLen
	if uint64(n) > uint64(a.Slots) {
		return nil, derr(msg, "num_addrs", "%d, but the message holds %d", n, a.Slots)
	}
	if a.Family != AFInet && a.Family != AFInet6 {
		if n == 0 {
			return a, nil // nothing to interpret
		}
		return nil, derr(msg, "family", "unknown address family %d", a.Family)
	}
	a.Addrs = make([]netip.Addr, n)
	for i := range a.Addrs {
		e := b[nodeAddrsHeaderSize+i*AddrLen:][:AddrLen]
		if a.Family == AFInet {
			a.Addrs[i] = netip.AddrFrom4([4]byte(e[:4]))
		} else {
			a.Addrs[i] = netip.AddrFrom16([16]byte(e))
		}
	}
	return a, nil
}

// AppendResponse appends the encoding of r to dst, as corosync 3.1.7 would
// send it. With an error code other than CS_OK the body fields are ignored
// and the daemon's error size is used (32 bytes for nodestatusget,
// get_node_addrs and local_get, 10272 for ringstatusget, 24 otherwise).
// With Reject set it appends the generic 24-byte id-0 answer. It refuses
// bodies the daemon could not produce: more than 16 ring interfaces, ring
// strings or link addresses that do not fit (CS_ERR_NAME_TOO_LONG), a
// missing NodeStatus or Addrs, more than MaxAddrs addresses, addresses
// not of Family. On error dst is returned unchanged.
func AppendResponse(dst []byte, r Response) ([]byte, error) {
	if r.Reject {
		return AppendReject(dst, r.Error), nil
	}
	msg := responseName(r.ID)
	known := false
	for req := ReqRingStatusGet; req <= ReqTrackStop; req++ {
		if ResponseFor(req) == r.ID {
			known = true
		}
	}
	if !known {
		return dst, encErr("response", corosync.ErrInvalidParam, "unknown response id %d", r.ID)
	}
	off := len(dst)
	if r.Error != corosync.OK {
		dst, b := wire.Grow(dst, errorResponseSize(r.ID))
		wire.PutResponseHeader(b, r.ID, r.Error)
		return dst, nil
	}
	size := ResponseSize(r.ID)
	if r.ID == ResGetNodeAddrs {
		if r.Addrs == nil {
			return dst, encErr(msg, corosync.ErrInvalidParam, "no addresses")
		}
		slots := r.Addrs.Slots
		if slots == 0 {
			slots = len(r.Addrs.Addrs)
		}
		if slots < len(r.Addrs.Addrs) || slots > MaxAddrs {
			return dst, encErr(msg, corosync.ErrInvalidParam, "%d slots for %d addresses (at most %d)", slots, len(r.Addrs.Addrs), MaxAddrs)
		}
		size += slots * AddrLen
	}
	dst, b := wire.Grow(dst, size)
	wire.PutResponseHeader(b, r.ID, r.Error)
	var err error
	switch r.ID {
	case ResRingStatusGet:
		err = putRings(b, r.Rings, msg)
	case ResLocalGet:
		le.PutUint32(b[24:], r.LocalNodeID)
	case ResNodeStatusGet:
		err = putNodeStatus(b, r.NodeStatus, msg)
	case ResGetNodeAddrs:
		err = putAddrs(b, r.Addrs, msg)
	}
	if err != nil {
		return dst[:off], err
	}
	return dst, nil
}

func putRings(b []byte, rings []RingInterface, msg string) error {
	if len(rings) > MaxInterfaces {
		return encErr(msg, corosync.ErrInvalidParam, "%d interfaces, at most %d", len(rings), MaxInterfaces)
	}
	le.PutUint32(b[24:], uint32(len(rings)))
	for i, r := range rings {
		name := b[ringNamesOff+i*InterfaceNameLen:][:InterfaceNameLen]
		status := b[ringStatusOff+i*InterfaceStatusLen:][:InterfaceStatusLen]
		if err := putCString(name, r.Name, msg, "interface name", corosync.ErrNameTooLong); err != nil {
			return err
		}
		if err := putCString(status, r.Status, msg, "interface status", corosync.ErrNameTooLong); err != nil {
			return err
		}
	}
	return nil
}

func putNodeStatus(b []byte, ns *NodeStatus, msg string) error {
	if ns == nil {
		return encErr(msg, corosync.ErrInvalidParam, "no node status")
	}
	s := b[nodeStatusOff:]
	le.PutUint32(s[0:], NodeStatusV1)
	le.PutUint32(s[4:], ns.NodeID)
	s[8], s[9], s[10] = b2u(ns.Reachable), b2u(ns.Remote), b2u(ns.External)
	s[11], s[12], s[13] = ns.OnwireMin, ns.OnwireMax, ns.OnwireVer
	for i, ls := range ns.Links {
		l := b[linkStatusOff+i*linkStatusSize:][:linkStatusSize]
		l[0], l[1], l[2] = b2u(ls.Enabled), b2u(ls.Connected), b2u(ls.DynConnected)
		le.PutUint32(l[4:], ls.MTU)
		if err := putCString(l[8:8+HostLen], ls.Src, msg, "src_ipaddr", corosync.ErrNameTooLong); err != nil {
			return err
		}
		if err := putCString(l[8+HostLen:8+2*HostLen], ls.Dst, msg, "dst_ipaddr", corosync.ErrNameTooLong); err != nil {
			return err
		}
	}
	return nil
}

func putAddrs(b []byte, a *NodeAddrs, msg string) error {
	if a.Family != AFInet && a.Family != AFInet6 {
		return encErr(msg, corosync.ErrInvalidParam, "unknown address family %d", a.Family)
	}
	le.PutUint32(b[24:], a.Family)
	le.PutUint32(b[28:], uint32(len(a.Addrs)))
	for i, ad := range a.Addrs {
		e := b[nodeAddrsHeaderSize+i*AddrLen:][:AddrLen]
		switch {
		case a.Family == AFInet && ad.Is4():
			v := ad.As4()
			copy(e, v[:])
		case a.Family == AFInet6 && ad.Is6() && ad.Zone() == "":
			v := ad.As16()
			copy(e, v[:])
		default:
			return encErr(msg, corosync.ErrInvalidParam, "address %d (%v) is not of family %d", i, ad, a.Family)
		}
	}
	return nil
}
