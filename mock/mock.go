// Package mock is a fake corosync cluster for tests, yours and ours: one
// cluster model (nodes, partitions, votes) that every service it serves
// answers from consistently. Each service is a handler in a file of its own
// (quorum.go, ...) over the generic connection in conn.go.
//
// A Cluster holds nodes that start, stop, crash, partition and heal, and
// computes quorum like votequorum (one vote per node; quorate while the
// partition holds more than half of the expected votes). Each Node is a
// transport.Dialer: hand it to quorum.WithDialer and the real quorum client
// talks to it in corosync's wire format, exactly as it would to a daemon:
//
//	cluster := mock.NewCluster(3)
//	c, err := quorum.Dial(ctx, quorum.WithDialer(cluster.Node(1)))
//	...
//	cluster.Partition([]uint32{1}, []uint32{2, 3}) // node 1 loses quorum
//
// cfg (cfg.go): local node id, node and link status following membership
// (one knet link per node at Node.Addr, cut on partition or death), node
// addresses, ring status, kill node, and shutdown coordination: trackers
// asked, NO refuses (BUSY), YES or no trackers stops the daemon, IMMEDIATE
// asks nobody, REGARDLESS stops despite a NO, an unanswered request is
// refused after WithShutdownTimeout; replies held back until decided, as
// the daemon does. TestCfgMockEqualsReal keeps these answers equal to real
// corosync 3.1.7's.
//
// Quorum: daemon behaviour is reproduced where a client can observe it: V0 and V1
// models, the trackstart snapshot queued before its response, CS_ERR_EXIST on
// a repeated trackstart, trackstop always CS_OK, nodelist-then-quorum on a
// membership change, a single quorum notification when only quorate flips,
// QUORUM_FREE (no provider) semantics, TRY_AGAIN before the daemon is ready,
// access denial, and connections dropped when the daemon stops. Like the
// daemon, a node queues events for a client that does not read them without
// limit.
package mock

import (
	"context"

	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// Cluster is a fake corosync cluster. Its methods are safe for concurrent use.
type Cluster struct {
	mu       sync.Mutex
	nodes    map[uint32]*Node
	ids      []uint32 // sorted
	expected uint32   // 0: the number of nodes
	free     bool     // no quorum provider (QUORUM_FREE)

	shutdownTimeout time.Duration // cfg.shutdown_timeout
}

// Option configures NewCluster.
type Option func(*Cluster)

// WithoutProvider makes the cluster run with no quorum provider
// (QUORUM_FREE): always quorate, and only nodelist notifications on changes.
func WithoutProvider() Option { return func(c *Cluster) { c.free = true } }

// WithShutdownTimeout sets how long a cfg shutdown request waits for the
// trackers' answers (cfg.shutdown_timeout; default 5s, as corosync).
func WithShutdownTimeout(d time.Duration) Option { return func(c *Cluster) { c.shutdownTimeout = d } }

// WithExpectedVotes sets the expected votes (default: the number of nodes).
func WithExpectedVotes(n uint32) Option { return func(c *Cluster) { c.expected = n } }

// NewCluster returns a cluster of nodes 1..n, all running, in one partition.
func NewCluster(n int, opts ...Option) *Cluster {
	c := &Cluster{nodes: make(map[uint32]*Node), shutdownTimeout: 5 * time.Second}
	for _, o := range opts {
		o(c)
	}
	for i := 1; i <= n; i++ {
		id := uint32(i)
		c.nodes[id] = &Node{c: c, id: id, up: true, ready: true, conns: make(map[*conn]struct{})}
		c.ids = append(c.ids, id)
	}
	c.mu.Lock()
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
// the other nodes see it leave.
func (c *Cluster) Stop(id uint32) { c.down(id, "corosync stopped") }

// Kill crashes node id's daemon (kill -9). To a client this looks like Stop.
func (c *Cluster) Kill(id uint32) { c.down(id, "corosync killed") }

func (c *Cluster) down(id uint32, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downLocked(id, why)
}

// downLocked stops node id's daemon; the caller holds c.mu.
func (c *Cluster) downLocked(id uint32, why string) {
	n := c.nodes[id]
	if n == nil || !n.up {
		return
	}
	n.up = false
	for cn := range n.conns {
		cn.kill(why)
	}
	clear(n.conns)
	n.members, n.ring, n.quorate = nil, wire.RingID{}, false
	c.recompute()
}

// Start starts node id's daemon; it joins the nodes of its partition.
func (c *Cluster) Start(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil && !n.up {
		n.up = true
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
	c.recompute()
}

// Heal reunites every node into one partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		n.group = 0
	}
	c.recompute()
}

// SetExpectedVotes changes the expected votes at runtime (like
// corosync-cmapctl -s quorum.expected_votes). Nodes whose quorate flag flips
// send a single quorum notification with an unchanged ring.
func (c *Cluster) SetExpectedVotes(n uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expected = n
	for _, id := range c.ids {
		nd := c.nodes[id]
		if !nd.up {
			continue
		}
		if q := c.quorateFor(nd.members); q != nd.quorate {
			nd.quorate = q
			nd.notifyQuorum()
		}
	}
}

func (c *Cluster) quorateFor(members []uint32) bool {
	if c.free {
		return true
	}
	exp := c.expected
	if exp == 0 {
		exp = uint32(len(c.ids))
	}
	return uint32(len(members)) >= exp/2+1
}

// recompute forms new rings for every partition whose membership changed and
// notifies trackers: nodelist (V1) first, then quorum. Caller holds c.mu.
func (c *Cluster) recompute() {
	groups := map[int][]uint32{}
	for _, id := range c.ids {
		if n := c.nodes[id]; n.up {
			groups[n.group] = append(groups[n.group], id)
		}
	}
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
		ring := wire.RingID{NodeID: members[0], Seq: seq + 4}
		for _, id := range members {
			n := c.nodes[id]
			joined, left := diff(members, n.members), diff(n.members, members)
			n.members, n.ring, n.lastSeq = slices.Clone(members), ring, ring.Seq
			n.quorate = c.quorateFor(members)
			n.notifyNodelist(joined, left)
			if !c.free {
				n.notifyQuorum()
			}
		}
	}
	c.cpgMembershipChanged()
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
	ring    wire.RingID
	lastSeq uint64
	members []uint32
	quorate bool
	conns   map[*conn]struct{}
	pending *shutdown // a cfg shutdown request being decided
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
	case newHandler(service, nil) == nil || !n.up:
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
	case "cpg":
		return &cpgConn{conn: cn}
	}
	return nil
}
