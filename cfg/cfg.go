package cfg

import (
	"context"
	"net/netip"
	"strings"

	corosync "github.com/corosync-go/corosync"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "cfg"

var (
	// ErrClosed is the cause of errors from calls on a closed Client; they
	// carry corosync.ErrBadHandle, as libcfg reports calls after finalize.
	ErrClosed = dispatch.ErrClosed
	// ErrNotConnected is the cause of errors from requests made while the
	// client is reconnecting; they carry corosync.ErrLibrary. It is
	// client.ErrNotConnected, in every service.
	ErrNotConnected = client.ErrNotConnected
)

// MaxLinks is the number of knet link slots in a NodeStatus: corosync's
// CFG_MAX_LINKS.
const MaxLinks = 8

// MaxReasonLen is the longest KillNode reason, in bytes: the reason travels
// in a 256-byte cs_name_t and the daemon prints it as a NUL-terminated
// string.
const MaxReasonLen = 255

// Client is a connection to the cfg service. Its methods are safe for
// concurrent use; the connection carries one request at a time, so a call
// waits while another one (a Shutdown, a Reload) is held back by the daemon.
type Client struct {
	s        *session.Session[Event]
	tracking bool
}

// Dial connects to the local corosync cfg service and reads the local node
// id; with WithShutdownTracking it also registers as a shutdown tracker.
// ctx bounds the handshake; TRY_AGAIN answers are retried with backoff until
// ctx ends.
//
// Errors carry corosync codes: corosync.ErrLibrary when corosync is not
// running, corosync.ErrAccess when this user is not allowed (see the uidgid
// section of corosync.conf).
func Dial(ctx context.Context, opts ...client.Option) (*Client, error) {
	cfg := config{}
	set, err := client.Apply("cfg.Dial", &cfg, opts)
	if err != nil {
		return nil, err
	}
	cfg.Options = session.OptionsFrom(set)
	c := &Client{tracking: cfg.tracking}
	s, err := session.Dial(ctx, cfgwire.Requests, &tracker{c: c}, cfg.Options)
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

func (c *Client) do(ctx context.Context, r cfgwire.Request) (cfgwire.Response, error) {
	conn, err := c.s.Current()
	if err != nil {
		return cfgwire.Response{}, err
	}
	return call(ctx, conn, r)
}

// LocalNodeID returns the local node id (corosync_cfg_local_get).
func (c *Client) LocalNodeID(ctx context.Context) (uint32, error) {
	r, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqLocalGet})
	return r.LocalNodeID, err
}

// NodeStatus is a node's knet status as the local node sees it
// (struct corosync_cfg_node_status_v1).
type NodeStatus struct {
	NodeID    uint32
	Reachable bool
	Remote    bool
	External  bool
	// OnwireMin, OnwireMax and OnwireVer are knet's on-wire protocol
	// versions. corosync 3.1.7 as built by Debian 12 (without
	// HAVE_KNET_ONWIRE_VER) always reports 0 for all three.
	OnwireMin uint8
	OnwireMax uint8
	OnwireVer uint8
	// Links is indexed by knet link number; unconfigured links are the zero
	// value. For the local node, link 0 is knet's loopback: enabled,
	// connected, MTU 65535, Src = Dst = the node's own address.
	Links [MaxLinks]LinkStatus
}

// LinkStatus is one knet link of a NodeStatus
// (struct corosync_knet_link_status_v1).
type LinkStatus struct {
	Enabled      bool
	Connected    bool
	DynConnected bool
	// MTU is the link's path MTU as knet's PMTUd found it (522 right after
	// start, e.g. 1446 once PMTUd has run).
	MTU uint32
	// Src and Dst are the link's local and remote addresses, as knet
	// prints them.
	Src string
	Dst string
}

// NodeStatus returns the status of node nodeID as the local node sees it
// (corosync_cfg_node_status_get, version 1). An unknown node id fails with
// corosync.ErrFailedOperation. A node that is cut off or dead is reported
// with Reachable false and its links enabled but not connected.
//
// NodeStatus needs corosync 3.1 (NODESTATUSGET arrived in 3.1.1; see
// corosync.Version for what the client can tell). On corosync 2.x and 3.0
// it fails with corosync.ErrNotSupported and nothing is sent: RingStatus
// is what those daemons offer.
func (c *Client) NodeStatus(ctx context.Context, nodeID uint32) (NodeStatus, error) {
	conn, err := c.s.Current()
	if err != nil {
		return NodeStatus{}, err
	}
	var st NodeStatus
	if err := nodeStatus(ctx, conn, nodeID, &st); err != nil {
		return NodeStatus{}, err
	}
	return st, nil
}

// RingInterface is one entry of RingStatus. Its text is the daemon's own,
// and differs by transport:
//
//   - knet (corosync 3.x): Name is "<link number> <local address>" (e.g.
//     "0 192.0.2.1") and Status has one character per knet host in node id
//     order: 'n' for the local node, '0'+(enabled | connected<<1 |
//     dynconnected<<2) for the others (healthy: '3'), 'd' when that host
//     has no such link.
//   - udp and udpu (corosync 2.x, and 3.x with transport udpu): one entry
//     per totem ring of the local node. Name is the ring's local address
//     (e.g. "192.0.2.1") and Status a sentence: "ring 0 active with no
//     faults", or one that contains "FAULTY" when totem's redundant ring
//     protocol marked the ring faulty.
//
// Faulty reads either form.
type RingInterface struct {
	Name   string
	Status string
}

// Faulty reports whether the entry shows a problem: on knet, a link to
// some host that is not enabled and connected (any character but 'n', '3',
// '7' or 'd'); on udp and udpu, a status that says "FAULTY".
func (r RingInterface) Faulty() bool {
	if strings.HasPrefix(r.Status, "ring ") || strings.Contains(r.Status, "FAULTY") {
		return strings.Contains(r.Status, "FAULTY")
	}
	for _, ch := range r.Status {
		switch ch {
		case 'n', '3', '7', 'd':
		default:
			return true
		}
	}
	return false
}

// RingStatus returns the old per-link status (corosync_cfg_ring_status_get):
// one entry per configured link (knet) or ring (udp, udpu) of the local
// node. It works on every corosync; on 3.1 NodeStatus is the structured
// replacement.
func (c *Client) RingStatus(ctx context.Context) ([]RingInterface, error) {
	r, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqRingStatusGet})
	if err != nil {
		return nil, err
	}
	out := make([]RingInterface, len(r.Rings))
	for i, ri := range r.Rings {
		out[i] = RingInterface(ri)
	}
	return out, nil
}

// NodeAddrs returns the configured (nodelist) addresses of node nodeID, one
// per link; 0 means the local node (corosync_cfg_get_node_addrs). An unknown
// node fails with corosync.ErrNotExist.
//
// corosync 3.1.7 skips IPv6 addresses whose first 16-bit group is zero
// (::1, ::ffff:a.b.c.d): it takes them for an empty slot, so they are
// missing from the result (corosync-cfgtool -a omits them too).
func (c *Client) NodeAddrs(ctx context.Context, nodeID uint32) ([]netip.Addr, error) {
	r, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqGetNodeAddrs, NodeID: nodeID})
	if err != nil || r.Addrs == nil {
		return nil, err
	}
	return r.Addrs.Addrs, nil
}

// Reload makes every node of the cluster re-read corosync.conf
// (corosync_cfg_reload_config). The daemon answers once the cluster has
// delivered the reload: seconds while a node is being lost (measured 2.2 s
// with a 1 s token). DANGEROUS: a bad or inconsistent configuration file
// takes effect on every node.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqReloadConfig})
	return err
}

// ReopenLog makes the local daemon reopen its log files
// (corosync_cfg_reopen_log_files), e.g. after log rotation. It needs
// corosync 3.0: corosync 2.x has no such request (its request 8 is
// CRYPTO_SET), so there it fails with corosync.ErrNotSupported and nothing
// is sent. A corosync built on libqb 1.0 (no qb_log_file_reopen) answers
// corosync.ErrNotSupported itself.
func (c *Client) ReopenLog(ctx context.Context) error {
	_, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqReopenLogFiles})
	return err
}

// KillNode makes node nodeID's corosync exit at once
// (corosync_cfg_kill_node); the target logs "Killed by node N : reason".
// DANGEROUS: the node leaves the cluster without asking its shutdown
// trackers. reason is at most MaxReasonLen bytes without NUL
// (corosync.ErrNameTooLong, corosync.ErrInvalidParam otherwise). On corosync
// 3.1 an unknown or dead node fails with corosync.ErrNotExist; corosync 2.x
// and 3.0 do not look the node up: they answer success (as libcfg reports
// it) and kill nothing.
func (c *Client) KillNode(ctx context.Context, nodeID uint32, reason string) error {
	_, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqKillNode, NodeID: nodeID, Reason: reason})
	return err
}

// Shutdown asks the local daemon to shut down (corosync_cfg_try_shutdown).
// DANGEROUS: on success the local corosync exits.
//
// With ShutdownRequest or ShutdownRegardless the daemon first asks every
// shutdown tracker and holds its reply back until they have all answered
// or cfg.shutdown_timeout (default 5 s) has passed: ShutdownRequest fails
// with corosync.ErrBusy on any NO or silence; ShutdownRegardless proceeds
// anyway. A shutdown already pending fails with corosync.ErrExist. Give ctx
// room for the timeout. While the reply is held back, other calls on this
// Client wait: the connection carries one request at a time, so a later
// request is never answered with an earlier request's reply (if ctx ends,
// the late reply is read and discarded).
//
// If this client is itself a tracker, corosync neither asks nor counts it:
// its subscribers get no corosync.EventShutdownRequest and the other trackers
// decide (with none, the shutdown goes ahead at once, per exec/cfg.c). If
// they stay silent, its subscribers get corosync.EventShutdownTimedOut.
func (c *Client) Shutdown(ctx context.Context, flags ShutdownFlags) error {
	_, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqTryShutdown, Flags: cfgwire.ShutdownFlags(flags)})
	return err
}

// ReplyShutdown answers the pending shutdown request
// (corosync_cfg_replyto_shutdown): ShutdownNo refuses it, ShutdownYes
// agrees. corosync has no third answer: "immediate" is a flag of the
// request (ShutdownImmediate), not a reply. With nothing pending the daemon
// answers corosync.ErrAccess (libcfg hides that code; this client returns
// it). The daemon does not check who answers nor count one connection once.
func (c *Client) ReplyShutdown(ctx context.Context, reply ShutdownReply) error {
	_, err := c.do(ctx, cfgwire.Request{ID: cfgwire.ReqReplyToShutdown, Reply: cfgwire.ShutdownReply(reply)})
	return err
}

// Subscribe returns a new subscription. Its first event is the current state
// (corosync.EventSnapshot), taken from the client's cache without a round trip.
// Shutdown requests reach subscribers only with WithShutdownTracking.
// opts choose the delivery policy (package dispatch): dispatch.LatestWins
// (the default: a slow subscriber skips to the newest event and
// Event.Skipped says how many it missed), dispatch.Queue(n) (every event, in
// order; the subscription ends with dispatch.ErrOverflow when n are
// unread), dispatch.Unbounded() or dispatch.Block(n). The subscription is a
// *dispatch.Subscription: read it with Next, TryNext, Drain, Run, C or All.
// A subscriber that must answer every shutdown request should use
// dispatch.Queue or dispatch.Block: under LatestWins a request can be
// replaced by a later event before it is read.
func (c *Client) Subscribe(ctx context.Context, opts ...dispatch.SubOption) (*dispatch.Subscription[Event], error) {
	return c.s.Subscribe(ctx, opts...)
}

// Latest returns the client's current state: the last event, as a snapshot.
func (c *Client) Latest() Event { return c.s.Latest() }

// DaemonVersion returns what the client learnt of the daemon's release
// when it last connected: a lower bound (see corosync.Version). Requests
// the daemon may not define fail with corosync.ErrNotSupported before
// anything is sent.
func (c *Client) DaemonVersion() corosync.Version { return c.s.DaemonVersion() }

// Close ends every subscription, stops shutdown tracking (the daemon counts
// that as a yes, as it counts a closed connection; stopping first keeps it
// from sending a shutdown request to a closing connection, an error in its
// log), closes the connection and waits for the dispatcher goroutine to
// exit. It is idempotent.
func (c *Client) Close() error { return c.s.Close() }
