// Package status reads a corosync cluster's whole state in one call: what
// corosync-quorumtool -s, corosync-cfgtool -s and the nodelist show, as
// typed values, built on this module's quorum, votequorum, cfg and cmap
// clients.
//
//	s, err := status.Get(ctx)
//	if err != nil && !s.Complete() { ... } // a *PartialError: s has the rest
//	fmt.Println(s.ClusterName, s.Quorate, s.Votes.Quorum)
//	for _, n := range s.Nodes {
//		fmt.Println(n.ID, n.Name, n.Member, n.Votes, n.Links)
//	}
//
// A Snapshot holds the cluster name, this node's id, quorate, the ring and
// its members, votequorum's votes and flags, the quorum device, and every
// node (configured, member, seen by votequorum) with its name, addresses,
// votes, state and links. For repeated reads (a monitoring agent, an
// exporter) Dial a Client once and call Snapshot: the connections stay
// open, quorum state comes from notifications without a round trip, and
// the nodelist is read again only when it changes. Client.Subscribe streams
// a new snapshot whenever the state changes, with the same subscription
// methods as the services' (Next, TryNext, Drain, Run, C, All, Err).
//
// # Every release
//
// A snapshot is read as that release's tools read it. The clients refuse
// what a daemon lacks (corosync.ErrNotSupported, nothing sent) and the
// package falls back as the tools do: on corosync 3.1 the links come from
// cfg's node status (LinksFromNodeStatus); on 3.0 from the old ring status
// of knet links, in the nodelist's node id order (LinksFromRingStatus); on
// 2.x, whose udp and udpu transports have no per-node links, the local
// rings' status is in Snapshot.Rings (LinksFromRings). Node names are the
// ones quorumtool shows: the nodelist's name on 3.x, its ring0_addr on 2.x,
// else the node's first address. Snapshot.RingIDText renders the ring id
// in the release's own form. The statistics (WithStats) come from the
// stats map on 3.x and the main map's runtime.connections on 2.x.
//
// # Partial results
//
// Each part of a snapshot comes from one service (see Part). When one
// cannot be read (a service refused this user, is restarting, or failed a
// request), the snapshot holds every other part, lists the missing ones in
// Snapshot.Missing, and Snapshot returns a *PartialError. errors.Is works
// with the corosync codes (corosync.ErrAccess, corosync.ErrLibrary, ...)
// and with ErrNotConnected for a service that was not connected. A Client
// dials a refused service again in the background, with backoff; a service
// the daemon's release lacks is dialed again only when the release changed.
//
// # Testing
//
// Package mock serves all five services: hand a mock node to
// client.WithDialer.
// The examples of this package run against it.
package status
