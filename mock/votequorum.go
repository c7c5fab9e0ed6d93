package mock

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/vqrules"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
)

// The votequorum service, as corosync 3.1.7's exec/votequorum.c answers it
// (measured: see internal/wire/vqwire/SPEC.md). Quorum is decided by
// internal/vqrules, a model of votequorum's decisions kept equal to real
// daemons by differential tests; the quorum service reports the same
// quorate flag.

// WithExpectedVotes sets quorum.expected_votes (default: not set, the sum
// of the nodes' votes).
func WithExpectedVotes(n uint32) Option { return func(c *Cluster) { c.vq.ExpectedVotes = n } }

// WithVotes sets node id's votes (nodelist.node.quorum_votes; default 1).
func WithVotes(id, votes uint32) Option {
	return func(c *Cluster) {
		for i := range c.vq.Nodes {
			if c.vq.Nodes[i].ID == id {
				c.vq.Nodes[i].Votes = votes
			}
		}
	}
}

// WithTwoNode sets two_node: 1 (which turns wait_for_all on unless
// WithWaitForAll(false) says otherwise).
func WithTwoNode() Option { return func(c *Cluster) { c.vq.TwoNode = true } }

// WithWaitForAll sets wait_for_all: 1 or 0 explicitly (default: as two_node).
func WithWaitForAll(on bool) Option {
	return func(c *Cluster) { c.vq.WaitForAll, c.vq.NoWaitForAll = on, !on }
}

// WithLastManStanding sets last_man_standing: 1 with its window (0: the
// default 10s). The window elapses only in Cluster.Advance: the mock has no
// timers of its own, so tests decide when time passes.
func WithLastManStanding(window time.Duration) Option {
	return func(c *Cluster) { c.vq.LastManStanding, c.vq.LastManStandingWindow = true, window }
}

// WithAutoTieBreaker sets auto_tie_breaker: 1 and auto_tie_breaker_node
// ("lowest" or "" (the default), "highest", or node ids separated by
// spaces).
func WithAutoTieBreaker(node string) Option {
	return func(c *Cluster) { c.vq.AutoTieBreaker, c.vq.AutoTieBreakerNode = true, node }
}

// WithAllowDownscale sets allow_downscale: 1.
func WithAllowDownscale() Option { return func(c *Cluster) { c.vq.AllowDownscale = true } }

// WithQdevice adds a quorum.device section: the device's votes (0: corosync
// computes them, nodes - 1) and its poll timeout (0: 10s). The device
// itself is Cluster.QdeviceVote, or a program registering through the
// votequorum API; it times out in Cluster.Advance.
func WithQdevice(votes uint32, timeout time.Duration) Option {
	return func(c *Cluster) { c.vq.Qdevice = &vqrules.QdeviceConfig{Votes: votes, Timeout: timeout} }
}

// Advance moves the cluster's votequorum clock by d and fires the timers
// that fall due: the last_man_standing window, quorum devices that stopped
// polling. The mock's clock moves only here, so time-dependent tests are
// deterministic.
func (c *Cluster) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sim.Advance(d)
	c.deliver()
}

// NextTimer returns how long until the next votequorum timer fires, if one
// runs (for Advance).
func (c *Cluster) NextTimer() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.sim.NextTimer()
	return at - c.sim.Now(), ok
}

// SetVotes gives target (a node id, or 0 for the quorum device) votes, as
// votequorum_setvotes on node on would; the daemon's refusals are
// corosync errors (ErrNameNotFound, ErrInvalidParam).
func (c *Cluster) SetVotes(on, target, votes uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[on]
	if n == nil || !n.up || c.free {
		return corosync.NewError("setvotes", corosync.ErrLibrary, errors.New("node not running"))
	}
	return c.vqErr("setvotes", c.setVotes(n, target, votes))
}

func (c *Cluster) setVotes(n *Node, target, votes uint32) corosync.Error {
	err := c.sim.SetVotes(n.id, target, votes)
	c.deliver()
	return vqCode(err, corosync.ErrNameNotFound)
}

// QdeviceName is the name the mock's own quorum device registers with
// (corosync-qdevice's).
const QdeviceName = "Qdevice"

// QdeviceVote is the mock's own quorum device on node id: registered there
// (as QdeviceName) if it is not yet, it polls casting its vote or not. It
// must poll again within the device timeout (see Advance) to stay alive.
func (c *Cluster) QdeviceVote(id uint32, cast bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	if n == nil || !n.up || c.free {
		return corosync.NewError("qdevice", corosync.ErrLibrary, errors.New("node not running"))
	}
	if !n.qdeviceRegistered() {
		if code := n.qdeviceRegister(QdeviceName); code != corosync.OK {
			return c.vqErr("qdevice register", code)
		}
	}
	return c.vqErr("qdevice poll", n.qdevicePoll(QdeviceName, cast, vqwire.RingID(n.ring)))
}

// QdeviceUnregister unregisters the device registered on node id.
func (c *Cluster) QdeviceUnregister(id uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	if n == nil || !n.up || c.free {
		return corosync.NewError("qdevice", corosync.ErrLibrary, errors.New("node not running"))
	}
	return c.vqErr("qdevice unregister", n.qdeviceUnregister(n.qdName))
}

func (c *Cluster) vqErr(op string, code corosync.Error) error {
	if code == corosync.OK {
		return nil
	}
	return corosync.NewError(op, code, nil)
}

// vqCode is the daemon's answer for a vqrules error; unknown is the code
// for an unknown node.
func vqCode(err error, unknown corosync.Error) corosync.Error {
	switch {
	case err == nil:
		return corosync.OK
	case errors.Is(err, vqrules.ErrUnknownNode):
		return unknown
	case errors.Is(err, vqrules.ErrNoDevice):
		return corosync.ErrNotExist
	}
	return corosync.ErrInvalidParam
}

// vqConn is the daemon side of a votequorum connection.
type vqConn struct {
	*conn
	tracking bool
	context  uint64
}

// vqNotify sends e to every tracker of the node, with its context.
func (n *Node) vqNotify(e vqwire.Event) {
	for cn := range n.conns {
		if v, ok := cn.h.(*vqConn); ok && v.tracking {
			e.Context = v.context
			cn.push(vqEvent(e))
		}
	}
}

func vqEvent(e vqwire.Event) []byte {
	b, err := vqwire.AppendEvent(nil, e)
	if err != nil {
		panic(fmt.Sprintf("mock votequorum: %v", err)) // our own state always fits
	}
	return b
}

// addOrder adds new node ids to the node list in corosync's order
// (node_add_ordered: before the first higher id, else before the last entry).
func (n *Node) addOrder(ids []uint32) {
	if len(n.order) == 0 {
		n.order = []uint32{n.id}
	}
	for _, id := range ids {
		if slices.Contains(n.order, id) {
			continue
		}
		i := slices.IndexFunc(n.order, func(x uint32) bool { return id < x })
		if i < 0 {
			i = len(n.order) - 1
		}
		n.order = slices.Insert(n.order, i, id)
	}
}

// vqQuorumEvent is the quorum notification for nt: every node the daemon
// knows in its list order, then the device's entry if one is registered.
func (n *Node) vqQuorumEvent(nt vqrules.Notification) vqwire.Event {
	ids := make([]uint32, len(nt.Nodes))
	states := map[uint32]vqrules.NodeState{}
	for i, x := range nt.Nodes {
		ids[i] = x.ID
		states[x.ID] = x.State
	}
	n.addOrder(ids)
	e := vqwire.Event{ID: vqwire.EvQuorum, Quorate: nt.Quorate, Nodes: []vqwire.Node{}}
	for _, id := range n.order {
		if st, ok := states[id]; ok {
			e.Nodes = append(e.Nodes, vqwire.Node{NodeID: id, State: vqwire.NodeState(st)})
		}
	}
	if nt.QdeviceRegistered {
		e.Nodes = append(e.Nodes, vqwire.Node{NodeID: vqwire.QdeviceNodeID})
	}
	return e
}

// vqSnapshot is what trackstart sends: a nodelist and a quorum notification.
func (n *Node) vqSnapshot() (nodelist, quorum vqwire.Event) {
	s, _ := n.c.sim.State(n.id)
	nodelist = vqwire.Event{ID: vqwire.EvNodelist, Ring: vqwire.RingID(n.ring), Members: n.members}
	quorum = n.vqQuorumEvent(vqrules.Notification{Quorate: s.Quorate, Nodes: s.Nodes,
		QdeviceRegistered: n.qdeviceRegistered()})
	return nodelist, quorum
}

// partition returns the running nodes in n's partition, n included.
func (n *Node) partition() []*Node {
	var out []*Node
	for _, id := range n.c.sim.Membership(n.id) {
		out = append(out, n.c.nodes[id])
	}
	return out
}

// syncQdeviceNames is sync_process's qdevice registration message: nodes
// without a device name take the first one sent, in node id order.
func (c *Cluster) syncQdeviceNames(members []uint32) {
	for _, from := range members {
		name := c.nodes[from].qdName
		if name == "" {
			continue
		}
		for _, id := range members {
			if m := c.nodes[id]; m.qdName == "" {
				m.qdName = name
			}
		}
	}
}

func (n *Node) qdeviceRegistered() bool {
	r, err := n.c.sim.Info(n.id, 0)
	return err == nil && r.Flags&vqrules.FlagQdevice != 0
}

// qdeviceRegister is qdevice_register: the registration goes round the
// partition, which records the name; this node then registers the device
// if the name is the one it knows.
func (n *Node) qdeviceRegister(name string) corosync.Error {
	if n.qdeviceRegistered() {
		if name == n.qdName {
			return corosync.OK
		}
		return corosync.ErrExist
	}
	for _, m := range n.partition() {
		if m.qdName == "" {
			m.qdName = name
		}
	}
	if name != n.qdName {
		return corosync.ErrExist
	}
	err := n.c.sim.QdeviceRegister(n.id)
	n.c.deliver()
	return vqCode(err, corosync.ErrNotExist)
}

// qdeviceUnregister is qdevice_unregister; every node of the partition
// forgets the name unless a member still has a device registered.
func (n *Node) qdeviceUnregister(name string) corosync.Error {
	switch {
	case !n.qdeviceRegistered():
		return corosync.ErrNotExist
	case name != n.qdName:
		return corosync.ErrInvalidParam
	}
	err := n.c.sim.QdeviceUnregister(n.id)
	n.c.deliver()
	for _, m := range n.partition() {
		s, _ := n.c.sim.State(m.id)
		keep := false
		for _, x := range s.Nodes {
			if x.State == vqrules.Member && x.Flags&vqrules.NodeQdeviceRegistered != 0 {
				keep = true
			}
		}
		if !keep {
			m.qdName = ""
		}
	}
	return vqCode(err, corosync.ErrNotExist)
}

func (n *Node) qdevicePoll(name string, cast bool, ring vqwire.RingID) corosync.Error {
	switch {
	case !n.qdeviceRegistered():
		return corosync.ErrNotExist
	case ring != vqwire.RingID(n.ring):
		return corosync.ErrMessageError
	case name != n.qdName:
		return corosync.ErrInvalidParam
	}
	err := n.c.sim.QdevicePoll(n.id, cast)
	n.c.deliver()
	return vqCode(err, corosync.ErrNotExist)
}

// setExtraInfo is main's qdevice_set_extra_info: the info goes round the
// partition, every node keeps it and tells its trackers (empty: cleared).
func (n *Node) setExtraInfo(info []byte) {
	c := n.c
	if len(info) == 0 {
		delete(c.extraInfo, n.id)
	} else {
		if c.extraInfo == nil {
			c.extraInfo = map[uint32][]byte{}
		}
		c.extraInfo[n.id] = append([]byte{}, info...)
	}
	for _, m := range n.partition() {
		m.vqNotify(vqwire.Event{ID: vqwire.EvExtraInfo, NodeID: n.id, ExtraInfo: info})
	}
}

// handle answers a votequorum request as exec/votequorum.c does.
func (v *vqConn) handle(req, out []byte) []byte {
	n := v.n
	c := n.c
	r, err := vqwire.DecodeRequest(req)
	if err != nil {
		if r.ID == vqwire.ReqQdeviceRegister && !n.qdeviceRegistered() {
			// A name without its NUL trips an assertion: the daemon
			// aborts (measured, TestDaemonTraitsUnterminatedName).
			v.hold() // never answered: the connection is lost
			c.downLocked(n.id, "corosync aborted: votequorum_exec_send_qdevice_reg assertion", false)
			return out
		}
		code := corosync.ErrInvalidParam
		if r.ID == vqwire.ReqQdeviceRegister {
			code = corosync.ErrExist
		}
		return vqwire.AppendReject(out, code)
	}
	status := func(code corosync.Error) []byte {
		b, _ := vqwire.AppendResponse(out, r.ID, code, vqwire.Info{})
		return b
	}
	switch r.ID {
	case vqwire.ReqGetInfo:
		i, err := c.sim.Info(n.id, r.NodeID)
		if err != nil {
			return status(corosync.ErrNotExist)
		}
		flags := vqwire.Flags(i.Flags)
		if _, ok := c.extraInfo[i.NodeID]; ok {
			flags |= vqwire.FlagQdeviceHasExtraInfo
		}
		b, err := vqwire.AppendResponse(out, r.ID, corosync.OK, vqwire.Info{
			NodeID: i.NodeID, State: vqwire.NodeState(i.State), NodeVotes: i.Votes,
			NodeExpectedVotes: i.Expected, HighestExpected: i.HighestExpected,
			TotalVotes: i.TotalVotes, Quorum: i.Quorum, Flags: flags,
			QdeviceVotes: i.QdeviceVotes, QdeviceName: n.qdName,
		})
		if err != nil {
			panic(fmt.Sprintf("mock votequorum: %v", err))
		}
		return b
	case vqwire.ReqSetExpected:
		err := c.sim.SetExpected(n.id, r.ExpectedVotes)
		c.deliver()
		return status(vqCode(err, corosync.ErrInvalidParam))
	case vqwire.ReqSetVotes:
		return status(c.setVotes(n, r.NodeID, r.Votes))
	case vqwire.ReqTrackStart:
		if r.TrackFlags&(vqwire.TrackCurrent|vqwire.TrackChanges) != 0 {
			nl, q := n.vqSnapshot()
			nl.Context, q.Context = r.Context, r.Context
			v.push(vqEvent(nl))
			v.push(vqEvent(q))
			// main follows it with each node's extra info, in node order.
			for _, id := range slices.Sorted(maps.Keys(c.extraInfo)) {
				v.push(vqEvent(vqwire.Event{ID: vqwire.EvExtraInfo, Context: r.Context, NodeID: id, ExtraInfo: c.extraInfo[id]}))
			}
		}
		if v.tracking {
			return status(corosync.ErrExist)
		}
		if r.TrackFlags&(vqwire.TrackChanges|vqwire.TrackChangesOnly) != 0 {
			v.tracking, v.context = true, r.Context
		}
		return status(corosync.OK)
	case vqwire.ReqTrackStop:
		if !v.tracking {
			return status(corosync.ErrNotExist)
		}
		v.tracking = false
		return status(corosync.OK)
	case vqwire.ReqQdeviceRegister:
		return status(n.qdeviceRegister(r.Name))
	case vqwire.ReqQdeviceUnregister:
		code := n.qdeviceUnregister(r.Name)
		if code == corosync.OK && c.version == corosync.VersionMain {
			n.setExtraInfo(nil) // main clears it, and says so
		}
		return status(code)
	case vqwire.ReqQdeviceSetExtraInfo, vqwire.ReqQdeviceGetExtraInfo:
		if c.version != corosync.VersionMain {
			break // a release's generic reject
		}
		if r.ID == vqwire.ReqQdeviceGetExtraInfo {
			if _, err := c.sim.Info(n.id, r.NodeID); err != nil && r.NodeID != vqwire.QdeviceNodeID {
				b, _ := vqwire.AppendExtraInfoResponse(out, corosync.ErrNotExist, nil)
				return b
			}
			b, _ := vqwire.AppendExtraInfoResponse(out, corosync.OK, c.extraInfo[r.NodeID])
			return b
		}
		if !n.qdeviceRegistered() {
			return status(corosync.ErrNotExist)
		}
		n.setExtraInfo(r.ExtraInfo)
		return status(corosync.OK)
	case vqwire.ReqQdeviceUpdate:
		switch {
		case !n.qdeviceRegistered():
			return status(corosync.ErrNotExist)
		case r.Name != n.qdName:
			return status(corosync.ErrInvalidParam)
		}
		for _, m := range n.partition() {
			if m.qdName == r.Name {
				m.qdName = r.NewName
			}
		}
		return status(corosync.OK)
	case vqwire.ReqQdevicePoll:
		return status(n.qdevicePoll(r.Name, r.CastVote, r.Ring))
	case vqwire.ReqQdeviceMasterWins:
		switch {
		case !n.qdeviceRegistered():
			return status(corosync.ErrNotExist)
		case r.Name != n.qdName:
			return status(corosync.ErrInvalidParam)
		}
		err := c.sim.QdeviceMasterWins(n.id, r.Allow)
		c.deliver()
		return status(vqCode(err, corosync.ErrNotExist))
	}
	return vqwire.AppendReject(out, corosync.ErrInvalidParam)
}
