package vqrules

import (
	"fmt"
	"slices"
	"time"
)

// NodeState is a node's state in a daemon's table (VOTEQUORUM_NODESTATE_*).
type NodeState uint8

// Node states.
const (
	Member  NodeState = 1
	Dead    NodeState = 2
	Leaving NodeState = 3
)

// String returns "member", "dead", "leaving" or "state(N)".
func (s NodeState) String() string {
	switch s {
	case Member:
		return "member"
	case Dead:
		return "dead"
	case Leaving:
		return "leaving"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// NodeFlags are the flags a node multicasts about itself in its nodeinfo
// (corosync's NODE_FLAGS_*; not the getinfo flags, see Flags).
type NodeFlags uint32

// Node flags.
const (
	NodeQuorate           NodeFlags = 1
	NodeLeaving           NodeFlags = 2
	NodeWaitForAll        NodeFlags = 4 // wait_for_all status: still waiting
	NodeFirst             NodeFlags = 8 // has not yet been in a multi-node ring
	NodeQdeviceRegistered NodeFlags = 16
	NodeQdeviceAlive      NodeFlags = 32
	NodeQdeviceCastVote   NodeFlags = 64
	NodeQdeviceMasterWins NodeFlags = 128
)

// Flags is the getinfo flags word (VOTEQUORUM_INFO_*), the same bits as
// votequorum.Flags.
type Flags uint32

// getinfo flag bits.
const (
	FlagTwoNode           Flags = 1
	FlagQuorate           Flags = 2
	FlagWaitForAll        Flags = 4
	FlagLastManStanding   Flags = 8
	FlagAutoTieBreaker    Flags = 16
	FlagAllowDownscale    Flags = 32
	FlagQdevice           Flags = 64
	FlagQdeviceAlive      Flags = 128
	FlagQdeviceCastVote   Flags = 256
	FlagQdeviceMasterWins Flags = 512
)

// Node is a node in a daemon's table.
type Node struct {
	ID       uint32
	State    NodeState
	Votes    uint32
	Expected uint32
	Flags    NodeFlags
}

// State is one daemon's votequorum state. The zero value is not useful:
// Cluster builds states, and a what-if builds one from getinfo answers.
type State struct {
	// ID is this daemon's node id.
	ID uint32
	// Nodes is every node the daemon knows, this one included, sorted by
	// id (corosync's cluster_members_list).
	Nodes []Node
	// QdeviceVotes is the quorum device's votes; whether they count is
	// this node's NodeQdeviceCastVote flag.
	QdeviceVotes uint32
	// Quorum is the current quorum threshold (8 bits in corosync).
	Quorum uint32
	// Quorate is whether this node is quorate.
	Quorate bool
	// WaitForAll is the wait_for_all status: still waiting for all votes.
	WaitForAll bool
	// Members is the current ring's membership and PreviousMembers the one
	// before it (the auto_tie_breaker list rule looks at both).
	Members, PreviousMembers []uint32
	// LowestID and HighestID are the lowest and highest member ids when
	// this node was last quorate (0: never), for auto_tie_breaker.
	LowestID, HighestID uint32
	// EVBarrier is the expected votes last set cluster-wide (allow_downscale).
	EVBarrier uint32
	// EVTrackingBarrier is the highest expected votes seen, kept on disk
	// across restarts with expected_votes_tracking.
	EVTrackingBarrier uint32
	// LastManStanding is whether last_man_standing is in force: corosync
	// turns it off when a node has more than one vote.
	LastManStanding bool
	// MasterWins is whether this node's device allowed master_wins.
	MasterWins bool
	// LMSTimer is whether the last_man_standing timer runs, and LMSDeadline
	// when it fires (on the Cluster's clock).
	LMSTimer    bool
	LMSDeadline time.Duration
	// QdeviceDeadline is when this node's quorum device times out unless
	// it polls (valid while the device is alive).
	QdeviceDeadline time.Duration

	// syncing is corosync's sync_in_progress: quorum flips are not
	// notified until the synchronisation ends.
	syncing bool
	// notes are the notifications sent and not yet taken.
	notes []Notification
}

// Clone returns a deep copy.
func (s State) Clone() State {
	s.Nodes = slices.Clone(s.Nodes)
	s.Members = slices.Clone(s.Members)
	s.PreviousMembers = slices.Clone(s.PreviousMembers)
	s.notes = nil
	return s
}

// node returns the entry of id, or nil.
func (s *State) node(id uint32) *Node {
	i, ok := slices.BinarySearchFunc(s.Nodes, id, func(n Node, id uint32) int { return cmpU32(n.ID, id) })
	if !ok {
		return nil
	}
	return &s.Nodes[i]
}

// us returns this daemon's own entry.
func (s *State) us() *Node { return s.node(s.ID) }

// addNode adds id (state dead, no votes) and returns it.
func (s *State) addNode(id uint32) *Node {
	i, _ := slices.BinarySearchFunc(s.Nodes, id, func(n Node, id uint32) int { return cmpU32(n.ID, id) })
	s.Nodes = slices.Insert(s.Nodes, i, Node{ID: id, State: Dead})
	return &s.Nodes[i]
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Result is what a daemon answers to votequorum_getinfo.
type Result struct {
	NodeID          uint32
	State           NodeState
	Votes           uint32
	Expected        uint32
	HighestExpected uint32
	// TotalVotes is the member nodes' votes, plus the device's when the
	// queried node's device casts its vote.
	TotalVotes   uint32
	Quorum       uint32
	Quorate      bool
	Flags        Flags
	QdeviceVotes uint32
}

// String renders the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("node %d %v votes %d expected %d highest %d total %d quorum %d quorate %v flags %#x qdevice %d",
		r.NodeID, r.State, r.Votes, r.Expected, r.HighestExpected, r.TotalVotes, r.Quorum, r.Quorate, uint32(r.Flags), r.QdeviceVotes)
}

// Info answers getinfo for nodeID (0: this node) as the daemon with state s
// does; ok is false for a node it does not know (CS_ERR_NOT_EXIST).
func (s *State) Info(e *Effective, nodeID uint32) (r Result, ok bool) {
	if nodeID == 0 {
		nodeID = s.ID
	}
	n := s.node(nodeID)
	if n == nil {
		return Result{}, false
	}
	var total uint32
	for _, m := range s.Nodes {
		if m.State == Member {
			r.HighestExpected = max(r.HighestExpected, m.Expected)
			total += m.Votes
		}
	}
	if n.Flags&NodeQdeviceCastVote != 0 {
		total += s.QdeviceVotes
	}
	r.NodeID, r.State, r.Votes, r.Expected = n.ID, n.State, n.Votes, n.Expected
	r.TotalVotes, r.Quorum, r.Quorate, r.QdeviceVotes = total, s.Quorum, s.Quorate, s.QdeviceVotes
	r.Flags = s.configFlags(e)
	if s.Quorate {
		r.Flags |= FlagQuorate
	}
	if n.Flags&NodeQdeviceRegistered != 0 {
		r.Flags |= FlagQdevice
	}
	if n.Flags&NodeQdeviceAlive != 0 {
		r.Flags |= FlagQdeviceAlive
	}
	if n.Flags&NodeQdeviceCastVote != 0 {
		r.Flags |= FlagQdeviceCastVote
	}
	if n.Flags&NodeQdeviceMasterWins != 0 {
		r.Flags |= FlagQdeviceMasterWins
	}
	return r, true
}

func (s *State) configFlags(e *Effective) Flags {
	var f Flags
	if e.TwoNode {
		f |= FlagTwoNode
	}
	if e.WaitForAll {
		f |= FlagWaitForAll
	}
	if s.LastManStanding {
		f |= FlagLastManStanding
	}
	if e.TieBreaker != TieBreakerNone {
		f |= FlagAutoTieBreaker
	}
	if e.AllowDownscale {
		f |= FlagAllowDownscale
	}
	return f
}

// Evaluate is the pure decision: the Result of node s.ID after the
// recalculation a daemon makes when a membership change completes
// (recalculate_quorum without allowing quorum to fall), leaving s as is.
func Evaluate(e Effective, s State) Result {
	d := s.Clone()
	d.recalculate(&e, false, false)
	r, _ := d.Info(&e, 0)
	return r
}

// calculateQuorum is calculate_quorum: the quorum the votes of the members
// (and the device's, if this node's device casts its vote) call for.
// maxExpected, when non-zero, replaces the highest expected votes.
func (s *State) calculateQuorum(e *Effective, allowDecrease bool, maxExpected uint32, downscale bool) (quorum, total uint32) {
	if downscale && allowDecrease && maxExpected != 0 {
		maxExpected = max(s.EVBarrier, maxExpected)
	}
	var highest, nodes uint32
	for _, n := range s.Nodes {
		if n.State == Member {
			highest = max(highest, n.Expected)
			total += n.Votes
			nodes++
		}
	}
	if s.us().Flags&NodeQdeviceCastVote != 0 {
		total += s.QdeviceVotes
		nodes++
	}
	if maxExpected > 0 {
		highest = maxExpected
	}
	q := max((highest+2)/2, (total+2)/2) // unsigned: wraps as corosync's does
	if !allowDecrease {
		q = max(s.Quorum, q)
	}
	if e.TwoNode && nodes <= 2 {
		q = 1
	}
	return q, total
}

// recalculate is recalculate_quorum: raise this node's expected votes to
// the total votes, compute quorum, and decide quorate.
func (s *State) recalculate(e *Effective, allowDecrease, byCurrentNodes bool) {
	var total, members uint32
	for _, n := range s.Nodes {
		if n.State == Member {
			members++
			total += n.Votes
		}
	}
	if s.QdeviceVotes != 0 {
		total += s.QdeviceVotes
		members++
	}
	if !byCurrentNodes {
		members = 0
	}
	us := s.us()
	if total > us.Expected {
		us.Expected = total
		s.note(NotifyExpectedVotes)
	}
	if e.EVTracking && us.Expected > s.EVTrackingBarrier {
		s.EVTrackingBarrier = us.Expected
	}
	q, votes := s.calculateQuorum(e, allowDecrease, members, e.AllowDownscale)
	s.Quorum = uint32(uint8(q)) // corosync keeps quorum in a uint8
	s.setExpected(members)
	s.areWeQuorate(e, votes)
}

// setExpected is update_node_expected_votes: every member's expected
// votes become n (n 0: nothing).
func (s *State) setExpected(n uint32) {
	if n == 0 {
		return
	}
	for i := range s.Nodes {
		if s.Nodes[i].State == Member {
			s.Nodes[i].Expected = n
		}
	}
}

func (s *State) setWaitForAll(on bool) {
	s.WaitForAll = on
	us := s.us()
	if on {
		us.Flags |= NodeWaitForAll
	} else {
		us.Flags &^= NodeWaitForAll
	}
}

// areWeQuorate is are_we_quorate.
func (s *State) areWeQuorate(e *Effective, total uint32) {
	us := s.us()
	if e.WaitForAll && s.WaitForAll {
		if total != us.Expected {
			return // waiting for all: stays not quorate
		}
		s.setWaitForAll(false)
	}
	quorate := s.Quorum <= total
	if quorate {
		s.LowestID, s.HighestID = s.ID, s.ID
		for _, n := range s.Nodes {
			if n.State == Member {
				s.LowestID = min(s.LowestID, n.ID)
				s.HighestID = max(s.HighestID, n.ID)
			}
		}
	}
	if e.TieBreaker != TieBreakerNone &&
		total == us.Expected/2 &&
		len(s.PreviousMembers)-len(s.Members) < int(s.Quorum) &&
		s.tieBreakerWins(e) {
		quorate = true
	}
	if s.MasterWins && !quorate {
		for _, n := range s.Nodes {
			if n.State == Member && n.Flags&NodeQdeviceMasterWins != 0 && n.Flags&NodeQdeviceCastVote != 0 {
				quorate = true
			}
		}
	}
	changed := s.Quorate != quorate
	s.Quorate = quorate
	if quorate {
		us.Flags |= NodeQuorate
	} else {
		us.Flags &^= NodeQuorate
	}
	if e.WaitForAll {
		s.setWaitForAll(!quorate)
	}
	if changed && !s.syncing {
		s.note(NotifyQuorum)
	}
}

// isMember reports whether id is in s's table as a member.
func (s *State) isMember(id uint32) bool {
	n := s.node(id)
	return n != nil && n.State == Member
}

// tieBreakerWins is check_auto_tie_breaker.
func (s *State) tieBreakerWins(e *Effective) bool {
	switch e.TieBreaker {
	case TieBreakerLowest:
		return s.LowestID != 0 && s.isMember(s.LowestID)
	case TieBreakerHighest:
		return s.HighestID != 0 && s.isMember(s.HighestID)
	}
	for i, id := range e.TieBreakerNodes {
		if !slices.Contains(s.Members, id) {
			continue
		}
		// A node earlier in the list that was in the previous membership
		// but is not here may be quorate on the other side.
		for _, prev := range e.TieBreakerNodes[:i] {
			if slices.Contains(s.PreviousMembers, prev) {
				return false
			}
		}
		return true
	}
	return false
}

// nodeinfo is the payload of a nodeinfo message.
type nodeinfo struct {
	sender   uint32
	nodeID   uint32 // 0: the quorum device
	votes    uint32
	expected uint32
	flags    NodeFlags
}

// snapshot is what votequorum_exec_send_nodeinfo(id) sends.
func (s *State) snapshot(id uint32) nodeinfo {
	if id == 0 {
		return nodeinfo{sender: s.ID, votes: s.QdeviceVotes}
	}
	n := s.node(id)
	return nodeinfo{sender: s.ID, nodeID: id, votes: n.Votes, expected: n.Expected, flags: n.Flags}
}

// deliverNodeinfo is message_handler_req_exec_votequorum_nodeinfo.
func (s *State) deliverNodeinfo(e *Effective, m nodeinfo) {
	if m.nodeID == 0 {
		old := s.QdeviceVotes
		sender := s.node(m.sender)
		if !s.Quorate && sender != nil && sender.Flags&NodeQuorate != 0 {
			s.QdeviceVotes = m.votes
		} else {
			s.QdeviceVotes = max(s.QdeviceVotes, m.votes)
		}
		if old != s.QdeviceVotes {
			s.recalculate(e, false, false)
		}
		return
	}
	n := s.node(m.nodeID)
	isNew := n == nil
	if isNew {
		n = s.addNode(m.nodeID)
	}
	old := *n
	if isNew {
		old = Node{ID: m.nodeID, State: Dead}
	}
	var allowDecrease, byNode bool
	n.Flags, n.Votes, n.State = m.flags, m.votes, Member
	if n.Flags&NodeLeaving != 0 {
		n.State = Leaving
		allowDecrease, byNode = true, true
	}
	if !s.Quorate && n.Flags&NodeQuorate != 0 {
		allowDecrease = true
		s.us().Expected = m.expected
		n = s.node(m.nodeID)
	}
	if n.Flags&NodeQuorate != 0 || e.EVTracking {
		n.Expected = m.expected
	} else {
		n.Expected = s.us().Expected
	}
	if s.LastManStanding && n.Votes > 1 {
		s.LastManStanding, s.LMSTimer = false, false
	}
	if isNew || m.nodeID == s.ID || n.Flags&NodeFirst != 0 || old.Votes != n.Votes ||
		old.Expected != n.Expected || old.Flags != n.Flags || old.State != n.State {
		s.recalculate(e, allowDecrease, byNode)
	}
	n = s.node(m.nodeID)
	if e.WaitForAll && n.Flags&NodeWaitForAll == 0 && n.Flags&NodeQuorate != 0 {
		s.setWaitForAll(false)
	}
}

// syncInit is votequorum_sync_init for a new ring with members (sorted).
func (s *State) syncInit(e *Effective, members []uint32, now time.Duration) {
	us := s.us()
	if len(members) > 1 {
		us.Flags &^= NodeFirst
	}
	left := false
	for _, id := range s.Members {
		if !slices.Contains(members, id) {
			left = true
			if n := s.node(id); n != nil {
				n.State = Dead
			}
		}
	}
	if s.LastManStanding {
		lowestHere := s.LowestID != 0 && s.isMember(s.LowestID)
		if (uint32(len(members)) >= s.Quorum && left) ||
			(uint32(len(members)) <= s.Quorum && e.TieBreaker != TieBreakerNone && lowestHere) {
			s.LMSTimer, s.LMSDeadline = true, now+e.LMSWindow
		}
	}
	s.PreviousMembers = s.Members
	s.Members = slices.Clone(members)
	s.syncing = true
	// sync_process: this node's nodeinfo goes out, then the nodelist
	// notification, before any nodeinfo is delivered.
	s.note(NotifyNodelist)
}

// syncActivate is votequorum_sync_activate.
func (s *State) syncActivate(e *Effective) {
	s.recalculate(e, false, false)
	s.note(NotifyQuorum)
	s.syncing = false
}

// lmsFire is votequorum_last_man_standing_timer_fn.
func (s *State) lmsFire(e *Effective) {
	s.LMSTimer = false
	if s.Quorate {
		s.recalculate(e, true, true)
	}
}
