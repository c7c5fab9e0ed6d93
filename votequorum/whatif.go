package votequorum

import (
	"context"
	"fmt"
	"slices"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/vqrules"
)

// Change is a hypothetical change to the cluster for WhatIf.
type Change struct {
	// StopNodes are nodes that stop gracefully (with allow_downscale they
	// announce that they are leaving).
	StopNodes []uint32
	// FailNodes are nodes that crash or are cut off without a word.
	FailNodes []uint32
	// RemoveQdevice: the quorum device stops casting its vote everywhere,
	// as corosync-qdevice does when qnetd goes away (it stays alive).
	RemoveQdevice bool
}

// Outcome is what WhatIf predicts.
type Outcome struct {
	// NodeID is the node whose view this is: this node, or when this node
	// is among the stopped ones, the lowest-numbered node left.
	NodeID uint32
	// Members are the nodes left in the membership, sorted.
	Members []uint32
	Quorate bool
	// Quorum, TotalVotes, ExpectedVotes and HighestExpected are what Info
	// would then report on NodeID.
	Quorum, TotalVotes, ExpectedVotes, HighestExpected uint32
	Flags                                              Flags
	// AfterWindow is, with last_man_standing, the outcome once the
	// last_man_standing_window has elapsed; nil without it.
	AfterWindow *Outcome
}

// String renders the outcome on one line.
func (o Outcome) String() string {
	q := "not quorate"
	if o.Quorate {
		q = "quorate"
	}
	s := fmt.Sprintf("%s: node %d members %v quorum %d total %d expected %d highest %d flags [%v]",
		q, o.NodeID, o.Members, o.Quorum, o.TotalVotes, o.ExpectedVotes, o.HighestExpected, o.Flags)
	if o.AfterWindow != nil {
		s += "; after the last_man_standing window: " + o.AfterWindow.String()
	}
	return s
}

// WhatIf predicts this node's quorum after ch, from the live state: this
// node's Info about every node of the latest quorum notification and the
// current membership, run through corosync 3.1.7's votequorum rules (the
// membership change as every daemon left would process it).
//
// What getinfo does not show is assumed: auto_tie_breaker decides for the
// lowest node id (auto_tie_breaker_node may say otherwise), the last
// membership before this one was this one, and the nodes left hold the
// same table of nodes as this one. A change that stops no node and keeps
// the device predicts the present state.
func (c *Client) WhatIf(ctx context.Context, ch Change) (Outcome, error) {
	st := c.Latest()
	if len(st.Members) == 0 {
		return Outcome{}, corosync.NewError("votequorum whatif", corosync.ErrTryAgain,
			fmt.Errorf("no membership known yet"))
	}
	local, err := c.Info(ctx, 0)
	if err != nil {
		return Outcome{}, err
	}
	ids := []uint32{}
	for _, n := range st.Nodes {
		if n.NodeID != 0 && !slices.Contains(ids, n.NodeID) {
			ids = append(ids, n.NodeID)
		}
	}
	for _, m := range st.Members {
		if !slices.Contains(ids, m) {
			ids = append(ids, m)
		}
	}
	slices.Sort(ids)
	var table []vqrules.Node
	for _, id := range ids {
		i, err := c.Info(ctx, id)
		if corosync.Code(err) == corosync.ErrNotExist {
			continue
		}
		if err != nil {
			return Outcome{}, err
		}
		n := vqrules.Node{ID: id, State: vqrules.NodeState(i.State), Votes: i.NodeVotes, Expected: i.NodeExpectedVotes}
		n.Flags = nodeFlags(i.Flags)
		if n.State == vqrules.Member && local.Quorate() {
			n.Flags |= vqrules.NodeQuorate
		}
		table = append(table, n)
	}
	return predict(local, st.Members, table, ch)
}

// nodeFlags turns a getinfo flags word into the node flags it shows.
func nodeFlags(f Flags) vqrules.NodeFlags {
	var n vqrules.NodeFlags
	for _, m := range [...]struct {
		f Flags
		n vqrules.NodeFlags
	}{
		{FlagQdevice, vqrules.NodeQdeviceRegistered},
		{FlagQdeviceAlive, vqrules.NodeQdeviceAlive},
		{FlagQdeviceCastVote, vqrules.NodeQdeviceCastVote},
		{FlagQdeviceMasterWins, vqrules.NodeQdeviceMasterWins},
	} {
		if f.Has(m.f) {
			n |= m.n
		}
	}
	return n
}

// predict runs ch through vqrules from the observed state: local is this
// node's Info, members the membership, table this node's Info of every
// node it knows.
func predict(local Info, members []uint32, table []vqrules.Node, ch Change) (Outcome, error) {
	f := local.Flags
	e := vqrules.Effective{
		TwoNode: f.Has(FlagTwoNode), WaitForAll: f.Has(FlagWaitForAll),
		LastManStanding: f.Has(FlagLastManStanding), AllowDownscale: f.Has(FlagAllowDownscale),
		EVTracking: f.Has(FlagAllowDownscale),
		Qdevice:    local.QdeviceVotes > 0 || local.QdeviceName != "", QdeviceVotes: local.QdeviceVotes,
		LMSWindow: vqrules.DefaultLastManStandingWindow,
	}
	if f.Has(FlagAutoTieBreaker) {
		e.TieBreaker = vqrules.TieBreakerLowest
	}
	e.Votes = map[uint32]uint32{}
	for _, n := range table {
		e.Votes[n.ID] = n.Votes
	}
	members = slices.Sorted(slices.Values(members))
	var states []vqrules.State
	for _, m := range members {
		s := vqrules.State{
			ID: m, Nodes: slices.Clone(table), QdeviceVotes: local.QdeviceVotes,
			Quorum: local.Quorum, Quorate: local.Quorate(),
			WaitForAll: e.WaitForAll && !local.Quorate(),
			Members:    members, PreviousMembers: members,
			EVBarrier: local.HighestExpected, LastManStanding: e.LastManStanding,
		}
		if local.Quorate() {
			s.LowestID, s.HighestID = members[0], members[len(members)-1]
		}
		found := false
		for i := range s.Nodes {
			if s.Nodes[i].ID == m {
				found = true
				if e.WaitForAll && !local.Quorate() {
					s.Nodes[i].Flags |= vqrules.NodeWaitForAll
				}
				s.MasterWins = s.Nodes[i].Flags&vqrules.NodeQdeviceMasterWins != 0
			}
		}
		if !found {
			continue // a member this node has no entry for yet
		}
		states = append(states, s)
	}
	sim, err := vqrules.Restore(e, states...)
	if err != nil {
		return Outcome{}, corosync.NewError("votequorum whatif", corosync.ErrInvalidParam, err)
	}
	for _, id := range ch.StopNodes {
		if sim.Running(id) {
			sim.Stop(id)
		}
	}
	for _, id := range ch.FailNodes {
		if sim.Running(id) {
			sim.Kill(id)
		}
	}
	if ch.RemoveQdevice {
		// corosync-qdevice that lost qnetd stays alive and polls
		// without casting its vote (measured: within milliseconds).
		for _, id := range sim.IDs() {
			if sim.Running(id) {
				sim.QdevicePoll(id, false)
			}
		}
	}
	view := local.NodeID
	if !sim.Running(view) {
		view = 0
		for _, id := range sim.IDs() {
			if sim.Running(id) {
				view = id
				break
			}
		}
	}
	if view == 0 {
		return Outcome{}, nil // nobody left
	}
	o := outcomeOf(sim, view)
	if e.LastManStanding {
		sim.Advance(e.LMSWindow)
		after := outcomeOf(sim, view)
		o.AfterWindow = &after
	}
	return o, nil
}

func outcomeOf(sim *vqrules.Cluster, view uint32) Outcome {
	r, _ := sim.Info(view, 0)
	return Outcome{
		NodeID: view, Members: sim.Membership(view), Quorate: r.Quorate,
		Quorum: r.Quorum, TotalVotes: r.TotalVotes, ExpectedVotes: r.Expected,
		HighestExpected: r.HighestExpected, Flags: Flags(r.Flags),
	}
}
