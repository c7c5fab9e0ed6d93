package corosync

import "strconv"

// RingID identifies a totem ring, that is a membership: the representative
// node (the lowest node id of the membership that formed it) and a 64-bit
// sequence number. quorum, votequorum and cpg report it. In quorum's V0
// model only Seq is known (libquorum's ring_seq) and NodeID is 0.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// String formats the ring id as corosync's tools do: "%x.%x", e.g. "1.5".
func (r RingID) String() string {
	return strconv.FormatUint(uint64(r.NodeID), 16) + "." + strconv.FormatUint(r.Seq, 16)
}
