package vqrules

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Errors of Cluster operations, as the daemon would answer them.
var (
	// ErrNotRunning: the node's daemon is not running.
	ErrNotRunning = errors.New("node not running")
	// ErrUnknownNode: no such node (getinfo NOT_EXIST, setvotes
	// NAME_NOT_FOUND, or not in the nodelist).
	ErrUnknownNode = errors.New("unknown node")
	// ErrInvalid: the daemon refuses the value (INVALID_PARAM).
	ErrInvalid = errors.New("invalid value")
	// ErrNoDevice: no quorum device registered on the node (NOT_EXIST).
	ErrNoDevice = errors.New("no quorum device registered")
)

// Cluster simulates the votequorum daemons of a cluster on a virtual clock.
// Its methods are not safe for concurrent use.
type Cluster struct {
	eff   Effective
	now   time.Duration
	nodes map[uint32]*simNode
	ids   []uint32
}

type simNode struct {
	running bool
	group   int // network partition
	state   State
	// barrier is the expected-votes tracking file, kept across restarts.
	barrier uint32
}

// NewCluster returns a cluster for cfg with no daemon running.
func NewCluster(cfg Config) (*Cluster, error) {
	e, err := cfg.Apply()
	if err != nil {
		return nil, err
	}
	if len(e.Votes) == 0 {
		return nil, fmt.Errorf("%w: the simulation needs a nodelist", ErrConfig)
	}
	c := &Cluster{eff: e, nodes: map[uint32]*simNode{}, ids: e.nodeIDs()}
	for _, id := range c.ids {
		c.nodes[id] = &simNode{}
	}
	return c, nil
}

// Effective returns the configuration in force.
func (c *Cluster) Effective() Effective { return c.eff }

// Now returns the virtual clock.
func (c *Cluster) Now() time.Duration { return c.now }

// IDs returns the configured node ids, sorted.
func (c *Cluster) IDs() []uint32 { return slices.Clone(c.ids) }

// Running reports whether node id's daemon runs.
func (c *Cluster) Running(id uint32) bool {
	n := c.nodes[id]
	return n != nil && n.running
}

func (c *Cluster) get(id uint32) (*simNode, error) {
	n := c.nodes[id]
	if n == nil {
		return nil, fmt.Errorf("node %d: %w", id, ErrUnknownNode)
	}
	if !n.running {
		return nil, fmt.Errorf("node %d: %w", id, ErrNotRunning)
	}
	return n, nil
}

// State returns a copy of node id's daemon state.
func (c *Cluster) State(id uint32) (State, error) {
	n, err := c.get(id)
	if err != nil {
		return State{}, err
	}
	return n.state.Clone(), nil
}

// Info answers getinfo(nodeID) on node on's daemon (nodeID 0: on itself).
func (c *Cluster) Info(on, nodeID uint32) (Result, error) {
	n, err := c.get(on)
	if err != nil {
		return Result{}, err
	}
	r, ok := n.state.Info(&c.eff, nodeID)
	if !ok {
		return Result{}, fmt.Errorf("node %d: %w", nodeID, ErrUnknownNode)
	}
	return r, nil
}

// Start starts the daemons of ids (votequorum_exec_init_fn) and lets the
// memberships form.
func (c *Cluster) Start(ids ...uint32) error {
	for _, id := range ids {
		n := c.nodes[id]
		if n == nil {
			return fmt.Errorf("node %d: %w", id, ErrUnknownNode)
		}
		if n.running {
			continue
		}
		n.running = true
		n.state = c.initState(id, n.barrier)
	}
	c.settle()
	return nil
}

// initState is a daemon's state at startup: alone, with its configured
// votes and expected votes, then its first recalculation.
func (c *Cluster) initState(id, barrier uint32) State {
	e := &c.eff
	s := State{ID: id, LastManStanding: e.LastManStanding, EVTrackingBarrier: barrier}
	expected := e.ExpectedVotes
	if e.EVTracking && barrier > 0 {
		expected = barrier
	}
	s.Nodes = []Node{{ID: id, State: Member, Votes: e.Votes[id], Expected: expected, Flags: NodeFirst}}
	s.QdeviceVotes = e.QdeviceVotes
	s.EVBarrier = expected
	if e.WaitForAll {
		s.setWaitForAll(true)
	}
	s.recalculate(e, false, false)
	// The first nodeinfo of a node alone, delivered to itself.
	s.deliverNodeinfo(e, s.snapshot(id))
	return s
}

// Stop stops node id gracefully: with allow_downscale it first tells the
// others it is leaving. The rest of its partition re-forms without it.
func (c *Cluster) Stop(id uint32) error {
	n, err := c.get(id)
	if err != nil {
		return err
	}
	if c.eff.AllowDownscale {
		n.state.us().Flags |= NodeLeaving
		c.multicast(id, []nodeinfo{n.state.snapshot(id)})
	}
	return c.Kill(id)
}

// Kill stops node id without a word (SIGKILL, crash, power loss).
func (c *Cluster) Kill(id uint32) error {
	n, err := c.get(id)
	if err != nil {
		return err
	}
	n.barrier = n.state.EVTrackingBarrier
	n.running = false
	n.state = State{}
	c.settle()
	return nil
}

// Partition splits the network: each group of ids can talk only within
// itself; nodes in no group are isolated.
func (c *Cluster) Partition(groups ...[]uint32) {
	g := len(groups) + 1
	for _, id := range c.ids {
		c.nodes[id].group = g
		g++
	}
	for i, ids := range groups {
		for _, id := range ids {
			if n := c.nodes[id]; n != nil {
				n.group = i
			}
		}
	}
	c.settle()
}

// Heal joins the network again.
func (c *Cluster) Heal() { c.Partition(c.ids) }

// Membership returns the running nodes node id can talk to, itself
// included (its ring), sorted.
func (c *Cluster) Membership(id uint32) []uint32 {
	n := c.nodes[id]
	if n == nil || !n.running {
		return nil
	}
	var m []uint32
	for _, o := range c.ids {
		if p := c.nodes[o]; p.running && p.group == n.group {
			m = append(m, o)
		}
	}
	return m
}

// settle forms a new ring wherever the membership changed.
func (c *Cluster) settle() {
	done := map[uint32]bool{}
	for _, id := range c.ids {
		n := c.nodes[id]
		if !n.running || done[id] {
			continue
		}
		m := c.Membership(id)
		changed := false
		for _, o := range m {
			done[o] = true
			if !slices.Equal(c.nodes[o].state.Members, m) {
				changed = true
			}
		}
		if changed {
			c.sync(m)
		}
	}
}

// sync runs votequorum's sync for a new ring with members m.
func (c *Cluster) sync(m []uint32) {
	e := &c.eff
	for _, id := range m {
		c.nodes[id].state.syncInit(e, m, c.now)
	}
	var msgs []nodeinfo
	for _, id := range m {
		s := &c.nodes[id].state
		msgs = append(msgs, s.snapshot(id), s.snapshot(0))
	}
	for _, msg := range msgs {
		for _, id := range m {
			c.nodes[id].state.deliverNodeinfo(e, msg)
		}
	}
	for _, id := range m {
		c.nodes[id].state.syncActivate(e)
	}
}

// multicast delivers messages from node from to its partition, in order.
func (c *Cluster) multicast(from uint32, msgs []nodeinfo) {
	m := c.Membership(from)
	for _, msg := range msgs {
		for _, id := range m {
			c.nodes[id].state.deliverNodeinfo(&c.eff, msg)
		}
	}
}

// SetExpected is votequorum_setexpected(n) on node on.
func (c *Cluster) SetExpected(on, n uint32) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	q, total := s.calculateQuorum(&c.eff, true, n, false)
	if n < total || (s.Quorate && q > total) {
		return fmt.Errorf("setexpected %d (total votes %d, quorum %d): %w", n, total, q, ErrInvalid)
	}
	s.setExpected(n)
	c.reconfigureExpected(on, n)
	return nil
}

// reconfigureExpected delivers a reconfigure message setting the expected
// votes to n from node on to its partition.
func (c *Cluster) reconfigureExpected(on, n uint32) {
	for _, id := range c.Membership(on) {
		t := &c.nodes[id].state
		t.setExpected(n)
		t.note(NotifyExpectedVotes)
		t.EVBarrier = n
		if c.eff.EVTracking {
			t.us().Expected = max(t.us().Expected, t.EVTrackingBarrier)
		}
		t.recalculate(&c.eff, true, false)
	}
}

// ConfigureExpected is quorum.expected_votes set to n at runtime in node
// on's configuration (corosync-cmapctl -s quorum.expected_votes): unlike
// SetExpected nothing is refused. The node takes n as its expected votes,
// multicasts its nodeinfo and, if that changed its expected votes, a
// reconfigure message to its partition.
func (c *Cluster) ConfigureExpected(on, n uint32) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	old, oldVotes := s.us().Expected, s.us().Votes
	s.us().Votes = c.eff.Votes[on]
	if c.eff.EVTracking && s.EVTrackingBarrier > 0 {
		n = s.EVTrackingBarrier
	}
	s.us().Expected = n
	s.EVBarrier = n
	// The configuration read again sets the device's votes: 0 without a
	// quorum.device section, its votes if configured.
	if !c.eff.Qdevice {
		s.QdeviceVotes = 0
	} else if c.eff.QdeviceVotes > 0 {
		s.QdeviceVotes = c.eff.QdeviceVotes
	}
	c.multicast(on, []nodeinfo{s.snapshot(on), s.snapshot(0)})
	if v := c.eff.Votes[on]; v != oldVotes {
		c.reconfigureVotes(on, on, v)
	}
	if s.us().Expected != old {
		c.reconfigureExpected(on, s.us().Expected)
	}
	return nil
}

// SetVotes is votequorum_setvotes(target, votes) on node on; target 0 is
// the quorum device.
func (c *Cluster) SetVotes(on, target, votes uint32) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	var p *uint32
	if target == 0 {
		p = &s.QdeviceVotes
	} else if n := s.node(target); n != nil {
		p = &n.Votes
	} else {
		return fmt.Errorf("setvotes node %d: %w", target, ErrUnknownNode)
	}
	saved := *p
	*p = votes
	q, total := s.calculateQuorum(&c.eff, true, 0, c.eff.AllowDownscale)
	*p = saved
	if q < total/2 || q > total {
		return fmt.Errorf("setvotes %d on node %d (quorum %d, total %d): %w", votes, target, q, total, ErrInvalid)
	}
	c.reconfigureVotes(on, target, votes)
	return nil
}

// reconfigureVotes delivers a reconfigure message setting target's votes
// from node on to its partition.
func (c *Cluster) reconfigureVotes(on, target, votes uint32) {
	for _, id := range c.Membership(on) {
		t := &c.nodes[id].state
		if target == 0 {
			t.QdeviceVotes = votes
		} else if n := t.node(target); n != nil {
			n.Votes = votes
		} else {
			continue
		}
		t.recalculate(&c.eff, true, false)
	}
}

// QdeviceRegister registers a quorum device on node on: its flag is set and
// it multicasts the device's votes and its own nodeinfo.
func (c *Cluster) QdeviceRegister(on uint32) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	// Without a quorum.device section corosync still accepts a device
	// (qdevice_can_operate starts at 1); its votes are then 0.
	s := &nd.state
	if s.us().Flags&NodeQdeviceRegistered != 0 {
		return nil
	}
	s.us().Flags |= NodeQdeviceRegistered
	c.multicast(on, []nodeinfo{s.snapshot(0), s.snapshot(on)})
	return nil
}

// QdeviceUnregister unregisters node on's device.
func (c *Cluster) QdeviceUnregister(on uint32) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	if s.us().Flags&NodeQdeviceRegistered == 0 {
		return ErrNoDevice
	}
	s.us().Flags &^= NodeQdeviceRegistered | NodeQdeviceAlive | NodeQdeviceCastVote | NodeQdeviceMasterWins
	c.multicast(on, []nodeinfo{s.snapshot(on)})
	return nil
}

// QdevicePoll is a poll of node on's device, casting its vote or not. The
// device then times out unless it polls again within its timeout.
func (c *Cluster) QdevicePoll(on uint32, cast bool) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	us := s.us()
	if us.Flags&NodeQdeviceRegistered == 0 {
		return ErrNoDevice
	}
	old := us.Flags
	us.Flags |= NodeQdeviceAlive
	if cast {
		us.Flags |= NodeQdeviceCastVote
	} else {
		us.Flags &^= NodeQdeviceCastVote
	}
	s.QdeviceDeadline = c.now + c.eff.QdeviceTimeout
	if us.Flags != old {
		c.multicast(on, []nodeinfo{s.snapshot(on)})
	}
	return nil
}

// QdeviceLost is node on's device timer firing: the device is no longer
// alive and its vote is withdrawn (qdevice_timer_fn).
func (c *Cluster) QdeviceLost(on uint32) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	us := s.us()
	if us.Flags&NodeQdeviceAlive == 0 {
		return nil
	}
	us.Flags &^= NodeQdeviceAlive | NodeQdeviceCastVote
	c.multicast(on, []nodeinfo{s.snapshot(on)})
	return nil
}

// QdeviceMasterWins sets master_wins for node on's device.
func (c *Cluster) QdeviceMasterWins(on uint32, allow bool) error {
	nd, err := c.get(on)
	if err != nil {
		return err
	}
	s := &nd.state
	us := s.us()
	if us.Flags&NodeQdeviceRegistered == 0 {
		return ErrNoDevice
	}
	old := us.Flags
	if allow {
		us.Flags |= NodeQdeviceMasterWins
	} else {
		us.Flags &^= NodeQdeviceMasterWins
	}
	if us.Flags != old {
		c.multicast(on, []nodeinfo{s.snapshot(on)})
	}
	s.MasterWins = allow
	return nil
}

// Advance is the step function: it moves the clock by d and fires the
// timers that fall due, in time order — the last_man_standing window
// (quorum recalculated down to the current members) and quorum devices
// that stopped polling (their vote withdrawn).
func (c *Cluster) Advance(d time.Duration) {
	end := c.now + d
	for {
		at, id, lms, ok := c.nextTimer(end)
		if !ok {
			break
		}
		c.now = at
		s := &c.nodes[id].state
		if lms {
			s.lmsFire(&c.eff)
		} else {
			c.QdeviceLost(id)
		}
	}
	c.now = end
}

// NextTimer returns when the next timer fires, if any runs.
func (c *Cluster) NextTimer() (time.Duration, bool) {
	at, _, _, ok := c.nextTimer(1<<63 - 1)
	return at, ok
}

func (c *Cluster) nextTimer(limit time.Duration) (at time.Duration, id uint32, lms, ok bool) {
	for _, i := range c.ids {
		n := c.nodes[i]
		if !n.running {
			continue
		}
		s := &n.state
		if s.LMSTimer && s.LMSDeadline <= limit && (!ok || s.LMSDeadline < at) {
			at, id, lms, ok = s.LMSDeadline, i, true, true
		}
		if s.us().Flags&NodeQdeviceAlive != 0 && s.QdeviceDeadline <= limit && (!ok || s.QdeviceDeadline < at) {
			at, id, lms, ok = s.QdeviceDeadline, i, false, true
		}
	}
	return at, id, lms, ok
}

// Restore returns a simulation of a running cluster whose daemons have the
// given states, all in one partition, for what-if questions. e.Votes must
// name every configured node (the states' nodes are added). The quorum
// devices are taken to keep polling until Advance passes their timeout
// from now (0).
func Restore(e Effective, states ...State) (*Cluster, error) {
	if e.Votes == nil {
		e.Votes = map[uint32]uint32{}
	}
	for _, s := range states {
		for _, n := range s.Nodes {
			if _, ok := e.Votes[n.ID]; !ok {
				e.Votes[n.ID] = n.Votes
			}
		}
	}
	if e.LMSWindow == 0 {
		e.LMSWindow = DefaultLastManStandingWindow
	}
	if e.QdeviceTimeout == 0 {
		e.QdeviceTimeout = DefaultQdeviceTimeout
	}
	c := &Cluster{eff: e, nodes: map[uint32]*simNode{}, ids: e.nodeIDs()}
	for _, id := range c.ids {
		c.nodes[id] = &simNode{}
	}
	for _, s := range states {
		n := c.nodes[s.ID]
		if n == nil || s.us() == nil {
			return nil, fmt.Errorf("state of node %d: %w", s.ID, ErrUnknownNode)
		}
		if n.running {
			return nil, fmt.Errorf("two states of node %d: %w", s.ID, ErrInvalid)
		}
		n.running, n.state, n.barrier = true, s.Clone(), s.EVTrackingBarrier
		if n.state.us().Flags&NodeQdeviceAlive != 0 && n.state.QdeviceDeadline == 0 {
			n.state.QdeviceDeadline = e.QdeviceTimeout
		}
	}
	return c, nil
}
