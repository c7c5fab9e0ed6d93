package mock

import (
	"context"

	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/vqrules"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
	"github.com/corosync-go/corosync/transport"
)

// Cluster is a fake corosync cluster. Its methods are safe for concurrent use.
type Cluster struct {
	mu    sync.Mutex
	nodes map[uint32]*Node
	ids   []uint32 // sorted
	free  bool     // no quorum provider (QUORUM_FREE)

	vq  vqrules.Config   // the quorum section and nodelist
	sim *vqrules.Cluster // every daemon's votequorum state

	shutdownTimeout time.Duration    // cfg.shutdown_timeout
	version         corosync.Version // what the release probe finds (WithDaemonVersion)

	extraInfo map[uint32][]byte // corosync main: each node's quorum device extra info
}

// Option configures NewCluster.
type Option func(*Cluster)

// WithoutProvider makes the cluster run with no quorum provider
// (QUORUM_FREE): always quorate, and only nodelist notifications on changes.
// Such a cluster has no votequorum service.
func WithoutProvider() Option { return func(c *Cluster) { c.free = true } }

// WithShutdownTimeout sets how long a cfg shutdown request waits for the
// trackers' answers (cfg.shutdown_timeout; default 5s, as corosync).
func WithShutdownTimeout(d time.Duration) Option { return func(c *Cluster) { c.shutdownTimeout = d } }

// WithDaemonVersion makes every node look like a daemon of release line v
// (corosync.Version2_4, Version3_0, Version3_1_6, the default, or
// VersionMain) to the release probe that clients run at connect: the cmap
// keys the probe reads are those of that line, and cpg answers the probe's
// question as main or as a release. Clients then refuse, with
// corosync.ErrNotSupported and before sending, what that release lacks,
// exactly as against a real daemon of it (quorum falls back to ModelV0,
// cfg's NodeStatus and shutdown tracking fail, and on 2.4 so do the stats
// map and ReopenLog), so code can be tested against older clusters. With
// VersionMain, votequorum has main's quorum device extra info. The rest of
// the mock's answers stay corosync 3.1.7's.
func WithDaemonVersion(v corosync.Version) Option { return func(c *Cluster) { c.version = v } }

// NewCluster returns a cluster of nodes 1..n, all running, in one partition.
// It panics if the options make a configuration corosync refuses to start
// with (two_node with a quorum device, for example).
func NewCluster(n int, opts ...Option) *Cluster {
	c := &Cluster{nodes: make(map[uint32]*Node), shutdownTimeout: 5 * time.Second, version: corosync.Version3_1_6}
	for i := 1; i <= n; i++ {
		c.vq.Nodes = append(c.vq.Nodes, vqrules.NodeConfig{ID: uint32(i)})
	}
	for _, o := range opts {
		o(c)
	}
	sim, err := vqrules.NewCluster(c.vq)
	if err != nil {
		panic("mock.NewCluster: " + err.Error())
	}
	c.sim = sim
	for i := 1; i <= n; i++ {
		id := uint32(i)
		c.nodes[id] = &Node{c: c, id: id, up: true, ready: true, conns: make(map[*conn]struct{})}
		c.ids = append(c.ids, id)
	}
	c.mu.Lock()
	c.sim.Start(c.ids...)
	c.recompute()
	c.mu.Unlock()
	return c
}

// Node returns node id, or nil if the cluster has no such node.
func (c *Cluster) Node(id uint32) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// Stop stops node id's daemon gracefully: its clients are disconnected and
// the other nodes see it leave (with allow_downscale, announced as leaving).
func (c *Cluster) Stop(id uint32) { c.down(id, "corosync stopped", true) }

// Kill crashes node id's daemon (kill -9). To a client this looks like Stop.
func (c *Cluster) Kill(id uint32) { c.down(id, "corosync killed", false) }

func (c *Cluster) down(id uint32, why string, graceful bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downLocked(id, why, graceful)
}

// downLocked stops node id's daemon; the caller holds c.mu.
func (c *Cluster) downLocked(id uint32, why string, graceful bool) {
	n := c.nodes[id]
	if n == nil || !n.up {
		return
	}
	if graceful {
		c.sim.Stop(id)
	} else {
		c.sim.Kill(id)
	}
	n.up = false
	for cn := range n.conns {
		cn.kill(why)
	}
	clear(n.conns)
	n.members, n.ring, n.quorate = nil, quorumwire.RingID{}, false
	n.order, n.qdName = nil, ""
	delete(c.extraInfo, id) // a restarted daemon starts without it
	c.recompute()
}

// Start starts node id's daemon; it joins the nodes of its partition.
func (c *Cluster) Start(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil && !n.up {
		n.up = true
		c.sim.Start(id)
		c.recompute()
	}
}

// Restart stops and starts node id's daemon.
func (c *Cluster) Restart(id uint32) {
	c.Stop(id)
	c.Start(id)
}

// Partition splits the cluster: each group can only see its own members.
// Nodes in no group end up alone.
func (c *Cluster) Partition(groups ...[]uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := 1
	for _, id := range c.ids {
		c.nodes[id].group = -int(id) // alone unless listed
	}
	for _, g := range groups {
		for _, id := range g {
			if n := c.nodes[id]; n != nil {
				n.group = next
			}
		}
		next++
	}
	c.sim.Partition(groups...)
	c.recompute()
}

// Heal reunites every node into one partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		n.group = 0
	}
	c.sim.Heal()
	c.recompute()
}

// SetExpectedVotes changes quorum.expected_votes at runtime, as
// corosync-cmapctl -s quorum.expected_votes u32 n on one node of every
// partition would: votequorum takes it without the checks of
// votequorum.Client.SetExpected and quorum may fall. Nodes whose quorate
// flag flips send a single quorum notification with an unchanged ring.
func (c *Cluster) SetExpectedVotes(n uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	done := map[uint32]bool{}
	for _, id := range c.ids {
		if done[id] || !c.nodes[id].up {
			continue
		}
		for _, m := range c.sim.Membership(id) {
			done[m] = true
		}
		c.sim.ConfigureExpected(id, n)
	}
	c.deliver()
}

// recompute forms new rings for every partition whose membership changed
// (the votequorum model has already synchronised them) and notifies the
// trackers of every service. Caller holds c.mu.
func (c *Cluster) recompute() {
	groups := map[int][]uint32{}
	for _, id := range c.ids {
		if n := c.nodes[id]; n.up {
			groups[n.group] = append(groups[n.group], id)
		}
	}
	var changedNodes []*Node
	for _, members := range groups {
		changed := false
		var seq uint64
		for _, id := range members {
			n := c.nodes[id]
			if !slices.Equal(n.members, members) {
				changed = true
			}
			seq = max(seq, n.ring.Seq, n.lastSeq)
		}
		if !changed {
			continue
		}
		ring := quorumwire.RingID{NodeID: members[0], Seq: seq + 4}
		for _, id := range members {
			n := c.nodes[id]
			n.joined, n.left = diff(members, n.members), diff(n.members, members)
			n.members, n.ring, n.lastSeq = slices.Clone(members), ring, ring.Seq
			if c.free {
				n.notifyNodelist(n.joined, n.left)
			}
			changedNodes = append(changedNodes, n)
		}
		c.syncQdeviceNames(members)
	}
	c.deliver()
	for _, n := range changedNodes {
		n.cmapMembership(n.joined, n.left) // cmap.go
	}
	c.cpgMembershipChanged() // cpg.go
}

// deliver turns the votequorum model's notifications into the events of
// every service's trackers, in the daemons' order. Caller holds c.mu.
func (c *Cluster) deliver() {
	for _, id := range c.ids {
		n := c.nodes[id]
		for _, nt := range c.sim.Notifications(id) {
			if !n.up || c.free {
				continue
			}
			switch nt.Kind {
			case vqrules.NotifyExpectedVotes:
				n.vqNotify(vqwire.Event{ID: vqwire.EvExpectedVotes, ExpectedVotes: nt.ExpectedVotes})
			case vqrules.NotifyNodelist:
				n.vqNotify(vqwire.Event{ID: vqwire.EvNodelist, Ring: vqwire.RingID(n.ring), Members: n.members})
				// corosync main: in the sync that follows, every member
				// whose device set extra info sends it round again, and
				// every node tells its trackers (before the quorum
				// notification; measured, TestVotequorumMockEqualsReal).
				for _, m := range n.members {
					if info, ok := c.extraInfo[m]; ok {
						n.vqNotify(vqwire.Event{ID: vqwire.EvExtraInfo, NodeID: m, ExtraInfo: info})
					}
				}
			case vqrules.NotifyQuorum:
				n.quorate = nt.Quorate
				n.vqNotify(n.vqQuorumEvent(nt))
				if nt.InSync {
					n.notifyNodelist(n.joined, n.left)
				}
				n.notifyQuorum()
			}
		}
	}
}

// diff returns the ids in a that are not in b.
func diff(a, b []uint32) []uint32 {
	out := []uint32{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Node is one node of a Cluster, and a transport.Dialer for its daemon.
type Node struct {
	c       *Cluster
	id      uint32
	up      bool
	ready   bool
	deny    bool
	tryReqs int
	group   int
	ring    quorumwire.RingID
	lastSeq uint64
	members []uint32
	quorate bool
	conns   map[*conn]struct{}
	pending *shutdown // a cfg shutdown request being decided
	cmap    *cmapNode // the daemon's cmap maps (cmap.go)

	joined, left []uint32 // of the last membership change
	order        []uint32 // votequorum's node list order
	qdName       string   // votequorum's qdevice_name
}

// ID returns the node id.
func (n *Node) ID() uint32 { return n.id }

// Quorate reports whether the node's daemon currently considers itself quorate.
func (n *Node) Quorate() bool {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.up && (n.quorate || n.c.free)
}

// Members returns the node's current membership (nil while it is down).
func (n *Node) Members() []uint32 {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return slices.Clone(n.members)
}

// Ring returns the node's current ring id as (representative, seq).
func (n *Node) Ring() (nodeID uint32, seq uint64) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.ring.NodeID, n.ring.Seq
}

// Connections returns how many client connections the node's daemon holds.
func (n *Node) Connections() int {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return len(n.conns)
}

// SetReady(false) makes the daemon answer new connections with TRY_AGAIN, as
// corosync does before its first sync; SetReady(true) ends that.
func (n *Node) SetReady(ready bool) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.ready = ready
}

// DenyAccess makes the daemon refuse new connections with CS_ERR_ACCESS, as
// corosync does for a user not listed in its uidgid configuration.
func (n *Node) DenyAccess(deny bool) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.deny = deny
}

// TryAgainRequests makes the daemon answer the next k requests with
// CS_ERR_TRY_AGAIN (overload or flow control).
func (n *Node) TryAgainRequests(k int) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.tryReqs = k
}

// Dial connects to the node's daemon. It implements transport.Dialer.
func (n *Node) Dial(ctx context.Context, service string) (transport.Conn, error) {
	op := "dial " + service
	if err := ctx.Err(); err != nil {
		return nil, transport.CtxError(op, err)
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	switch {
	case newHandler(service, nil) == nil || !n.up || (service == "votequorum" && n.c.free):
		return nil, corosync.NewError(op, corosync.ErrLibrary,
			fmt.Errorf("corosync is not running (or has no %q service): %w", service, syscall.ECONNREFUSED))
	case !n.ready:
		return nil, corosync.NewError(op, corosync.ErrTryAgain, fmt.Errorf("corosync is not ready yet: %w", syscall.EAGAIN))
	case n.deny:
		return nil, corosync.NewError(op, corosync.ErrAccess, fmt.Errorf("access denied by the daemon: %w", syscall.EACCES))
	}
	cn := &conn{n: n, service: service, notify: make(chan struct{}, 1), done: make(chan struct{}), reqs: make(chan struct{}, 1)}
	cn.h = newHandler(service, cn)
	n.conns[cn] = struct{}{}
	return cn, nil
}

// newHandler returns the daemon side of a connection to service, or nil if
// the mock does not serve it.
func newHandler(service string, cn *conn) handler {
	switch service {
	case "quorum":
		return &quorumConn{conn: cn}
	case "cfg":
		return &cfgConn{conn: cn}
	case "votequorum":
		return &vqConn{conn: cn}
	case "cmap":
		return &cmapConn{conn: cn}
	case "cpg":
		return &cpgConn{conn: cn}
	}
	return nil
}
