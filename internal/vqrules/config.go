// Package vqrules decides quorum as corosync 3.1.7's votequorum does, in
// pure Go and without I/O: the votes and expected votes of every node, the
// quorum threshold, whether a partition is quorate, and the features that
// bend the arithmetic (two_node, wait_for_all, last_man_standing and its
// window, auto_tie_breaker lowest/highest/list, allow_downscale with
// expected-votes tracking, the quorum device's votes and master_wins).
//
// The model follows exec/votequorum.c closely (calculate_quorum,
// are_we_quorate, recalculate_quorum, the nodeinfo and reconfigure message
// handlers, sync_init/sync_activate and the last_man_standing timer), with
// its quirks: quorum is kept in 8 bits, it only rises unless a change allows
// it to fall, a node that is not quorate re-enters wait_for_all, and the
// expected votes are raised to the total votes and not lowered again.
//
// There are two levels:
//
//   - State is one daemon's votequorum state (its table of nodes, the
//     quorum, quorate, the wait_for_all status, the last two memberships).
//     Evaluate(cfg, state) is the pure decision: what that daemon's quorum
//     recalculation would yield now, as a Result shaped like getinfo.
//   - Cluster simulates every daemon of a cluster on a virtual clock: start,
//     stop and kill nodes, partition and heal the network, setexpected,
//     setvotes, a quorum device's registration, polls and loss, and Advance
//     (the step function) for the time-dependent rules: the
//     last_man_standing window elapsing and the quorum device timing out.
//     Info(on, nodeid) answers as the daemon on node on would answer
//     votequorum_getinfo, and Notifications(on) returns the notifications
//     it sent its trackers (expected votes, nodelist, quorum), in order.
//
// A membership change is synchronised as corosync does: every member marks
// the nodes that left as dead and arms the last_man_standing timer if it
// applies; each member then multicasts its nodeinfo (and the device's), all
// of them delivered in node id order to every member; finally each member
// recalculates quorum (sync_activate).
package vqrules

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultLastManStandingWindow is corosync's last_man_standing_window.
const DefaultLastManStandingWindow = 10 * time.Second

// DefaultQdeviceTimeout is corosync's quorum.device.timeout.
const DefaultQdeviceTimeout = 10 * time.Second

// NodeConfig is a nodelist entry.
type NodeConfig struct {
	ID uint32
	// Votes is quorum_votes; 0 means not set (1 vote).
	Votes uint32
}

// QdeviceConfig is a quorum.device section.
type QdeviceConfig struct {
	// Votes is quorum.device.votes; 0 means not set: corosync then gives
	// the device (number of nodes - 1) votes when every node has 1 vote.
	Votes uint32
	// Timeout is quorum.device.timeout (0: DefaultQdeviceTimeout).
	Timeout time.Duration
}

// Config is a cluster's quorum configuration: the quorum section and the
// nodelist of corosync.conf.
type Config struct {
	Nodes []NodeConfig
	// ExpectedVotes is quorum.expected_votes (0: not set; the sum of the
	// nodelist's votes is used).
	ExpectedVotes uint32
	TwoNode       bool
	// WaitForAll is wait_for_all: 1. Without it and without
	// NoWaitForAll, wait_for_all follows two_node.
	WaitForAll bool
	// NoWaitForAll is an explicit wait_for_all: 0.
	NoWaitForAll    bool
	LastManStanding bool
	// LastManStandingWindow is last_man_standing_window (0: the default).
	LastManStandingWindow time.Duration
	AutoTieBreaker        bool
	// AutoTieBreakerNode is auto_tie_breaker_node: "lowest" (also when
	// empty), "highest" or a list of node ids separated by spaces.
	AutoTieBreakerNode string
	AllowDownscale     bool
	// ExpectedVotesTracking is expected_votes_tracking (implied by
	// AllowDownscale).
	ExpectedVotesTracking bool
	// Qdevice is the quorum.device section, nil if none.
	Qdevice *QdeviceConfig
}

// TieBreaker is the auto_tie_breaker mode in force.
type TieBreaker uint8

// Tie breaker modes (corosync's ATB_*).
const (
	TieBreakerNone TieBreaker = iota
	TieBreakerLowest
	TieBreakerHighest
	TieBreakerList
)

// String returns "none", "lowest", "highest" or "list".
func (t TieBreaker) String() string {
	switch t {
	case TieBreakerNone:
		return "none"
	case TieBreakerLowest:
		return "lowest"
	case TieBreakerHighest:
		return "highest"
	case TieBreakerList:
		return "list"
	}
	return fmt.Sprintf("TieBreaker(%d)", uint8(t))
}

// Effective is a Config as corosync applies it at startup: the features
// actually in force after votequorum's consistency rules.
type Effective struct {
	TwoNode         bool
	WaitForAll      bool
	LastManStanding bool
	LMSWindow       time.Duration
	TieBreaker      TieBreaker
	TieBreakerNodes []uint32
	AllowDownscale  bool
	EVTracking      bool
	// Qdevice is whether a quorum device is configured, QdeviceVotes its
	// votes and QdeviceTimeout its poll timeout.
	Qdevice        bool
	QdeviceVotes   uint32
	QdeviceTimeout time.Duration
	// ExpectedVotes is every node's expected votes at startup: the
	// configured expected_votes, or the nodelist's votes plus the
	// device's automatic votes.
	ExpectedVotes uint32
	// Votes is each node's votes.
	Votes map[uint32]uint32
	// Warnings lists what corosync would log at CRIT/WARNING level while
	// disabling a feature.
	Warnings []string
}

// ErrConfig is the cause of the errors for configurations corosync refuses
// to start with.
var ErrConfig = errors.New("votequorum configuration error")

// Apply checks c as votequorum_readconfig does at startup and returns what
// is in force. Configurations corosync refuses to start with are errors
// wrapping ErrConfig.
func (c Config) Apply() (Effective, error) {
	var e Effective
	if len(c.Nodes) == 0 && c.ExpectedVotes == 0 {
		return e, fmt.Errorf("%w: nodelist or quorum.expected_votes must be configured", ErrConfig)
	}
	seen := map[uint32]bool{}
	e.Votes = map[uint32]uint32{}
	var nodelistEV uint32
	uniform := true
	for _, n := range c.Nodes {
		if n.ID == 0 || seen[n.ID] {
			return e, fmt.Errorf("%w: node id %d is zero or repeated", ErrConfig, n.ID)
		}
		seen[n.ID] = true
		v := n.Votes
		if v == 0 {
			v = 1
		}
		if v != 1 {
			uniform = false
		}
		e.Votes[n.ID] = v
		nodelistEV += v
	}
	e.TwoNode = c.TwoNode
	if c.TwoNode && c.Qdevice != nil {
		return e, fmt.Errorf("%w: two_node and quorum device cannot be configured at the same time", ErrConfig)
	}
	e.AllowDownscale = c.AllowDownscale
	e.EVTracking = c.ExpectedVotesTracking || c.AllowDownscale
	e.LastManStanding = c.LastManStanding
	e.LMSWindow = c.LastManStandingWindow
	if e.LMSWindow == 0 {
		e.LMSWindow = DefaultLastManStandingWindow
	}
	if c.AutoTieBreaker {
		e.TieBreaker = TieBreakerLowest
		if c.AutoTieBreakerNode != "" {
			e.TieBreaker, e.TieBreakerNodes = parseATB(c.AutoTieBreakerNode)
			if e.TieBreaker == TieBreakerNone {
				e.Warnings = append(e.Warnings, "auto_tie_breaker_node is not valid: auto_tie_breaker is disabled")
			}
		}
	}
	switch {
	case c.WaitForAll:
		e.WaitForAll = true
	case !c.NoWaitForAll:
		e.WaitForAll = c.TwoNode // wait_for_all follows two_node
	}
	if e.TwoNode && e.TieBreaker != TieBreakerNone {
		e.Warnings = append(e.Warnings, "two_node and auto_tie_breaker are not compatible: two_node has been disabled")
		e.TwoNode = false
		if !c.WaitForAll && !c.NoWaitForAll {
			// corosync computed the automatic wait_for_all before
			// disabling two_node, so it stays set.
			e.WaitForAll = true
		}
	}
	if e.TieBreaker != TieBreakerNone && nodelistEV%2 == 1 && !e.WaitForAll {
		if e.LastManStanding {
			return e, fmt.Errorf("%w: auto_tie_breaker & last_man_standing not available in odd sized cluster", ErrConfig)
		}
		e.Warnings = append(e.Warnings, "auto_tie_breaker with an odd number of votes needs wait_for_all: auto_tie_breaker has been disabled")
		e.TieBreaker, e.TieBreakerNodes = TieBreakerNone, nil
	}
	qdVotes := int64(-1)
	if q := c.Qdevice; q != nil {
		e.Qdevice = true
		if q.Votes > 0 {
			qdVotes = int64(q.Votes)
		}
		e.QdeviceTimeout = q.Timeout
		if e.QdeviceTimeout == 0 {
			e.QdeviceTimeout = DefaultQdeviceTimeout
		}
		switch {
		case e.LastManStanding:
			return e, fmt.Errorf("%w: quorum.device is not compatible with last_man_standing", ErrConfig)
		case e.TieBreaker != TieBreakerNone:
			return e, fmt.Errorf("%w: quorum.device is not compatible with auto_tie_breaker", ErrConfig)
		case e.AllowDownscale:
			return e, fmt.Errorf("%w: quorum.device is not compatible with allow_downscale", ErrConfig)
		case c.ExpectedVotes > 0 && qdVotes < 0:
			return e, fmt.Errorf("%w: quorum.device.votes must be specified when quorum.expected_votes is set", ErrConfig)
		case qdVotes < 0 && len(c.Nodes) > 0 && !uniform:
			return e, fmt.Errorf("%w: quorum.device.votes must be specified when not all nodes votes 1", ErrConfig)
		case qdVotes > 0 && c.ExpectedVotes > 0 && int64(c.ExpectedVotes)-qdVotes < 2:
			return e, fmt.Errorf("%w: quorum.device.votes is too high or expected_votes is too low", ErrConfig)
		}
		if qdVotes < 0 && c.ExpectedVotes == 0 && len(c.Nodes) > 0 {
			qdVotes = int64(nodelistEV) - 1
			nodelistEV += uint32(qdVotes)
		}
		if qdVotes > 0 {
			e.QdeviceVotes = uint32(qdVotes)
		}
	}
	e.ExpectedVotes = nodelistEV
	if c.ExpectedVotes > 0 {
		e.ExpectedVotes = c.ExpectedVotes
	}
	return e, nil
}

// parseATB reads auto_tie_breaker_node as corosync does: "lowest",
// "highest", or node ids read with strtol until the first 0 or non-number.
func parseATB(s string) (TieBreaker, []uint32) {
	switch s {
	case "lowest":
		return TieBreakerLowest, nil
	case "highest":
		return TieBreakerHighest, nil
	}
	var ids []uint32
	for _, f := range strings.Fields(s) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil || n == 0 {
			break
		}
		ids = append(ids, uint32(n))
	}
	if len(ids) == 0 {
		return TieBreakerNone, nil
	}
	return TieBreakerList, ids
}

// nodeIDs returns the configured ids, sorted.
func (e Effective) nodeIDs() []uint32 {
	ids := make([]uint32, 0, len(e.Votes))
	for id := range e.Votes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
