package status

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/votequorum"
)

// Part names one part of a Snapshot, each read from one service.
type Part string

// The parts of a Snapshot.
const (
	// PartQuorum: Quorate, Ring and Members (quorum service).
	PartQuorum Part = "quorum"
	// PartVotequorum: Votes, Qdevice, and each node's votes, expected
	// votes, state and flags (votequorum service).
	PartVotequorum Part = "votequorum"
	// PartCfg: the local node id and every node's link status (cfg
	// service).
	PartCfg Part = "cfg"
	// PartCmap: the cluster name, transport, quorum provider and the
	// nodelist: node names and addresses (cmap service).
	PartCmap Part = "cmap"
	// PartStats: knet link statistics and IPC connection counts (the cmap
	// stats map; the main map on corosync 2.x). Read only WithStats.
	PartStats Part = "stats"
)

// PartError says why one part of a Snapshot is missing. errors.Is matches
// the corosync code of its cause (corosync.ErrLibrary when the service is
// not connected, corosync.ErrAccess, ...), and ErrNotConnected when the
// part's service was not connected at all.
type PartError struct {
	Part Part
	Err  error
}

// Error implements error.
func (e *PartError) Error() string { return "status: " + string(e.Part) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PartError) Unwrap() error { return e.Err }

// PartialError is the error of a Snapshot that lacks some parts: the
// snapshot holds everything else. errors.Is looks through every missing
// part's cause, and errors.As finds each *PartError.
type PartialError struct {
	Missing []*PartError
}

// Error implements error.
func (e *PartialError) Error() string {
	var b strings.Builder
	b.WriteString("status: incomplete snapshot:")
	for i, p := range e.Missing {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " %s: %v", p.Part, p.Err)
	}
	return b.String()
}

// Unwrap returns the missing parts' errors.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, len(e.Missing))
	for i, p := range e.Missing {
		errs[i] = p
	}
	return errs
}

// Snapshot is the cluster's state as the local node sees it: what
// corosync-quorumtool -s, corosync-cfgtool -s and the nodelist show, as
// typed values. Its slices belong to the snapshot; snapshots delivered by a
// Subscription are shared between subscribers: do not modify them.
type Snapshot struct {
	// Time is when the snapshot was taken.
	Time time.Time
	// DaemonVersion is what the clients learnt of the daemon's release (a
	// lower bound, see corosync.Version): the latest any of them found, so
	// corosync.VersionMain on main once votequorum is connected. The
	// fallbacks follow it.
	DaemonVersion corosync.Version

	// ClusterName is totem.cluster_name; Transport is totem.transport
	// ("knet", "udpu", "udp"), or the release's default when unset.
	ClusterName string
	Transport   string
	// Provider is quorum.provider ("corosync_votequorum"), "" when the
	// daemon runs without a quorum provider (quorumtool: "Not configured").
	Provider string

	// LocalNodeID is this node's id (cfg).
	LocalNodeID uint32
	// Quorate says whether this node is quorate; Ring is the current ring
	// (membership) and Members its node ids in the daemon's order, as
	// quorumtool's membership list shows them (quorum). On daemons whose
	// quorum service gives no representative node (corosync 2.x and 3.0),
	// Ring.NodeID comes from votequorum, as quorumtool takes it.
	Quorate bool
	Ring    corosync.RingID
	Members []uint32

	// Votes is votequorum's view from this node; nil when the daemon has
	// no votequorum or PartVotequorum is missing.
	Votes *Votes
	// Qdevice is the quorum device as this node sees it; nil without one.
	Qdevice *Qdevice

	// Nodes is every node known: configured in the nodelist, member of the
	// current ring, seen by votequorum (dead ones included), and this node;
	// sorted by node id.
	Nodes []Node
	// Links says where the nodes' links come from, which depends on the
	// daemon's release (see LinkSource).
	Links LinkSource
	// Rings is the status of each totem ring of this node on the udp and
	// udpu transports (corosync 2.x), as corosync-cfgtool -s shows them:
	// "ring 0 active with no faults". nil on knet.
	Rings []Ring

	// Stats is the statistics part, read only WithStats.
	Stats *Stats
	// Changes counts quorum and membership changes seen by the Client since
	// it was dialed (zero for Get).
	Changes Changes

	// Missing lists the parts that could not be read, and why; empty
	// when the snapshot is complete.
	Missing []*PartError
}

// Votes is votequorum's view from this node (votequorum_getinfo of this
// node), as corosync-quorumtool -s shows it.
type Votes struct {
	ExpectedVotes   uint32
	HighestExpected uint32
	TotalVotes      uint32
	Quorum          uint32
	// Flags is this node's flags word: FlagTwoNode ... FlagAllowDownscale
	// describe the configuration, FlagQuorate this node's view, and the
	// FlagQdevice* bits this node's quorum device.
	Flags votequorum.Flags
}

// quorumtoolFlags are the flags corosync-quorumtool prints, in its order.
var quorumtoolFlags = []struct {
	f    votequorum.Flags
	name string
}{
	{votequorum.FlagTwoNode, "2Node"}, {votequorum.FlagQuorate, "Quorate"},
	{votequorum.FlagWaitForAll, "WaitForAll"}, {votequorum.FlagLastManStanding, "LastManStanding"},
	{votequorum.FlagAutoTieBreaker, "AutoTieBreaker"}, {votequorum.FlagAllowDownscale, "AllowDownscale"},
	{votequorum.FlagQdevice, "Qdevice"},
}

// FlagNames returns the names corosync-quorumtool -s prints on its Flags
// line, in its order: 2Node Quorate WaitForAll LastManStanding
// AutoTieBreaker AllowDownscale Qdevice. It never returns nil.
func (v Votes) FlagNames() []string {
	names := []string{}
	for _, f := range quorumtoolFlags {
		if v.Flags.Has(f.f) {
			names = append(names, f.name)
		}
	}
	return names
}

// Qdevice is the cluster's quorum device as this node sees it.
type Qdevice struct {
	// Name is the device's cluster-wide name; Votes its votes.
	Name  string
	Votes uint32
	// Registered, Alive, CastVote and MasterWins are this node's device
	// state (votequorum's FlagQdevice* bits of this node).
	Registered bool
	Alive      bool
	CastVote   bool
	MasterWins bool
}

// NameSource says where a Node's Name comes from.
type NameSource uint8

// Name sources.
const (
	// NameNone: no name known.
	NameNone NameSource = iota
	// NameNodelist: the nodelist (nodelist.node.N.name on corosync 3.x,
	// ring0_addr on 2.x), as corosync-quorumtool shows it.
	NameNodelist
	// NameAddress: the node's first address as cfg knows it, as
	// corosync-quorumtool shows a member the nodelist does not name.
	NameAddress
)

// Node is one node of the cluster as this node sees it.
type Node struct {
	ID uint32
	// Name is the name corosync-quorumtool shows for the node, and
	// NameFrom where it comes from.
	Name     string
	NameFrom NameSource
	// Addrs are the node's configured addresses (nodelist.node.N.ringL_addr),
	// indexed by link (ring) number L, "" for a link it has none; for a
	// member the nodelist lacks, the addresses cfg knows, one per link.
	Addrs []string
	// Configured says the node is in the nodelist; Member that it is in
	// the current membership; Local that it is this node.
	Configured bool
	Member     bool
	Local      bool

	// Seen says votequorum has seen the node (its node list, which keeps
	// dead nodes). State, Votes, ExpectedVotes and Flags are votequorum's
	// getinfo of the node; State is 0 when votequorum has no info on it.
	Seen          bool
	State         votequorum.NodeState
	Votes         uint32
	ExpectedVotes uint32
	Flags         votequorum.Flags
	// QdeviceExtraInfo is what the node's quorum device set as its extra
	// info (corosync main only; read when Flags has
	// votequorum.FlagQdeviceHasExtraInfo, as corosync-quorumtool -s does).
	QdeviceExtraInfo []byte

	// HasLinks says the link status part has this node (knet); Reachable
	// is knet's view of it (always true for this node; false when the
	// daemon cannot tell, see LinksFromRingStatus); Links are its links in
	// link number order.
	HasLinks  bool
	Reachable bool
	Links     []Link
}

// QdeviceState returns corosync-quorumtool's Qdevice column for the node:
// "NR" (no device registered on it) or "A|NA,V|NV,MW|NMW" (alive, casting
// its vote, master wins).
func (n Node) QdeviceState() string {
	f := n.Flags
	if !f.Has(votequorum.FlagQdevice) {
		return "NR"
	}
	return pick(f.Has(votequorum.FlagQdeviceAlive), "A", "NA") + "," +
		pick(f.Has(votequorum.FlagQdeviceCastVote), "V", "NV") + "," +
		pick(f.Has(votequorum.FlagQdeviceMasterWins), "MW", "NMW")
}

// LinkSource says what the daemon's release tells of the links.
type LinkSource uint8

// Link sources.
const (
	// LinksNone: no link status (PartCfg missing).
	LinksNone LinkSource = iota
	// LinksFromNodeStatus: cfg's node status (corosync 3.1): every field
	// of Link and Node.Reachable.
	LinksFromNodeStatus
	// LinksFromRingStatus: cfg's old ring status of knet links (corosync
	// 3.0): enabled, connected and dynconnected per node and link, in the
	// nodelist's node id order; no MTU, and Reachable is not known.
	LinksFromRingStatus
	// LinksFromRings: the udp and udpu transports (corosync 2.x): only the
	// local rings' status, in Snapshot.Rings; no per-node links.
	LinksFromRings
)

// String returns "none", "node-status", "ring-status" or "rings".
func (s LinkSource) String() string {
	switch s {
	case LinksFromNodeStatus:
		return "node-status"
	case LinksFromRingStatus:
		return "ring-status"
	case LinksFromRings:
		return "rings"
	}
	return "none"
}

// Link is one knet link to a node, as this node sees it.
type Link struct {
	// Number is the knet link number (cfgtool's LINK ID).
	Number       int
	Enabled      bool
	Connected    bool
	DynConnected bool
	// Unknown: knet could not tell the link's state (corosync 3.0's ring
	// status character '?'); Enabled and Connected are then false.
	Unknown bool
	// MTU is knet's path MTU of the link (0 when not known).
	MTU uint32
	// Src and Dst are the link's local and remote addresses. For this node
	// both are its own address on that link.
	Src, Dst string
}

// Ring is one totem ring of this node on the udp and udpu transports.
type Ring struct {
	// Number is the ring's position (cfgtool's RING ID), Address its local
	// address and Status the daemon's sentence.
	Number  int
	Address string
	Status  string
	// Faulty: the status says FAULTY (the redundant ring protocol marked
	// the ring faulty).
	Faulty bool
}

// Stats is the statistics part of a Snapshot (WithStats).
type Stats struct {
	// IPC is the daemon's IPC connection counts; nil if it has none.
	IPC *IPCStats
	// Links are knet's statistics of each link to each other node (not of
	// this node's loopback), by node id then link number; none on 2.x.
	Links []LinkStats
}

// IPCStats counts the daemon's IPC connections (stats.ipcs.global.* on
// corosync 3.x, runtime.connections.* on 2.x).
type IPCStats struct {
	Active uint64
	Closed uint64
}

// LinkStats is knet's statistics of one link to one node
// (stats.knet.nodeN.linkL.*).
type LinkStats struct {
	NodeID uint32
	Link   int
	// LatencyAvg, LatencyMin and LatencyMax are latency_ave, _min and _max
	// (kept by knet in microseconds).
	LatencyAvg, LatencyMin, LatencyMax time.Duration
	UpCount, DownCount                 uint64
	RxDataPackets, TxDataPackets       uint64
	RxDataBytes, TxDataBytes           uint64
	// TxErrors is tx_total_errors.
	TxErrors uint64
}

// Changes counts what a Client saw change since it was dialed, from the
// quorum service's notifications (and the fresh state after a reconnect).
type Changes struct {
	// Quorum counts flips of this node's quorate state; Membership new
	// rings.
	Quorum     uint64
	Membership uint64
	// Last is when the last change was seen; zero before the first.
	Last time.Time
}

// Err returns why part p is missing, or nil when it was read.
func (s Snapshot) Err(p Part) error {
	for _, m := range s.Missing {
		if m.Part == p {
			return m
		}
	}
	return nil
}

// Complete reports whether every part was read.
func (s Snapshot) Complete() bool { return len(s.Missing) == 0 }

// Connected reports whether part p's service was connected when the
// snapshot was taken (the part may still have failed).
func (s Snapshot) Connected(p Part) bool { return !errors.Is(s.Err(p), ErrNotConnected) }

// Node returns node id, if the snapshot knows it.
func (s Snapshot) Node(id uint32) (Node, bool) {
	i, ok := slices.BinarySearchFunc(s.Nodes, id, func(n Node, id uint32) int {
		switch {
		case n.ID < id:
			return -1
		case n.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return Node{}, false
	}
	return s.Nodes[i], true
}

// Local returns this node, if the snapshot knows it.
func (s Snapshot) Local() (Node, bool) { return s.Node(s.LocalNodeID) }

// V2 reports whether the daemon is a corosync 2.x (an unknown release is
// taken for 3.x): its tools print ring ids in decimal and name nodes by
// their ring0_addr.
func (s Snapshot) V2() bool { return olderThan3(s.DaemonVersion) }

// RingIDText renders the ring id as that release's corosync-quorumtool -s
// prints it: with votequorum (the provider, or votes read) "1.c" on 3.x
// (representative node and sequence in hex) and "1/12" on 2.x (the node as
// a signed int, decimal); without votequorum the sequence alone ("c",
// "12").
func (s Snapshot) RingIDText() string {
	v2 := s.V2()
	if !s.HasVotequorum() && s.Votes == nil {
		return fmt.Sprintf(pick(v2, "%d", "%x"), s.Ring.Seq)
	}
	if v2 {
		return fmt.Sprintf("%d/%d", int32(s.Ring.NodeID), s.Ring.Seq)
	}
	return fmt.Sprintf("%x.%x", s.Ring.NodeID, s.Ring.Seq)
}

// HasVotequorum reports whether the daemon's quorum provider is
// votequorum.
func (s Snapshot) HasVotequorum() bool { return s.Provider == votequorumProvider }

const votequorumProvider = "corosync_votequorum"

func pick(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// olderThan3 reports whether v is a corosync 2.x; an unknown version is
// taken for 3.x.
func olderThan3(v corosync.Version) bool {
	return v != (corosync.Version{}) && !v.AtLeast(corosync.Version3_0)
}

// sameState reports whether a and b describe the same cluster state: all
// but the time, the statistics and the change counters, and the missing
// parts by part and code.
func sameState(a, b Snapshot) bool {
	if len(a.Missing) != len(b.Missing) {
		return false
	}
	for i := range a.Missing {
		if a.Missing[i].Part != b.Missing[i].Part || corosync.Code(a.Missing[i].Err) != corosync.Code(b.Missing[i].Err) {
			return false
		}
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	a.Stats, b.Stats = nil, nil
	a.Changes, b.Changes = Changes{}, Changes{}
	a.Missing, b.Missing = nil, nil
	return reflect.DeepEqual(a, b)
}
