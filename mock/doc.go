// Package mock is a fake corosync cluster for tests: one cluster model
// (nodes, partitions, votes) from which all five services answer, each
// node speaking corosync's wire protocol to the real clients of this
// module.
//
// A Cluster holds nodes that start, stop, crash, partition and heal. Each
// Node is a transport.Dialer: hand it to client.WithDialer, and quorum,
// votequorum, cfg, cmap and cpg clients talk to it exactly as they would
// to a daemon, with no root, no network and no corosync installed:
//
//	cluster := mock.NewCluster(3)
//	q, err := quorum.Dial(ctx, client.WithDialer(cluster.Node(1)))
//	...
//	cluster.Partition([]uint32{1}, []uint32{2, 3}) // node 1 loses quorum
//	cluster.Heal()
//	cluster.Kill(2)    // a crash: its clients lose their connections
//	cluster.Restart(2) // and get them back
//
// Quorum is decided as corosync 3.1.7's votequorum decides it: votes per
// node, expected votes, two_node, wait_for_all, last_man_standing,
// auto_tie_breaker, allow_downscale and a quorum device (the With
// options). Time passes only in Cluster.Advance (the last_man_standing
// window, device timeouts): the mock has no timers, so a test decides when
// time passes. WithDaemonVersion makes the cluster read as an older
// corosync release (2.4, 3.0), so code can be tested against what those
// lack. Node.DenyAccess, Node.SetReady and Node.TryAgainRequests make the
// daemon refuse, answer TRY_AGAIN, or not be ready yet.
//
// What each service answers, as the real daemon does wherever a client can
// observe it (tests of this module compare the mock with real corosync
// 3.1.7, call by call and event by event):
//
//   - quorum: the V0 and V1 models, the snapshot that tracking starts with,
//     CS_ERR_EXIST for a repeated trackstart, nodelist-then-quorum events on
//     a membership change, one quorum event when only quorate flips, and
//     QUORUM_FREE with WithoutProvider.
//   - votequorum: getinfo (CS_ERR_NOT_EXIST for an unknown node),
//     setexpected and setvotes with the daemon's refusals, tracking with the
//     nodelist, expected-votes and quorum events in the daemon's order, and
//     quorum devices registered through the API (register, unregister,
//     update, poll, master_wins) or voted by Cluster.QdeviceVote.
//   - cfg: the local node id, node and link status following membership
//     (one knet link per node at Node.Addr, cut on partition or death), node
//     addresses, ring status, kill node, and shutdown coordination with
//     trackers (YES, NO, IMMEDIATE, REGARDLESS, and a request left
//     unanswered until WithShutdownTimeout).
//   - cmap: each node's own map with the cluster's configuration keys
//     (totem.*, nodelist.*, quorum.*), the runtime keys the daemon keeps
//     (runtime.members.*, runtime.votequorum.*, ...) updated on membership
//     changes, get, set, delete, increment, iteration in the daemon's order,
//     tracking, and the stats map with the real key names and types. A
//     restarted node rebuilds its map from the configuration, so keys set by
//     clients are gone, as on a restarted daemon.
//   - cpg: groups per partition with one total order of messages and
//     membership changes, the reasons of every change (join, leave,
//     procdown, nodedown, nodeup), the totem membership events, the daemon's
//     refusals (CS_ERR_EXIST for a second join, CS_ERR_NOT_EXIST for a leave
//     while not joined, ...), and group iteration. Flow control is not
//     modelled beyond Node.TryAgainRequests.
//
// Like the daemon, a node queues events without limit for a client that
// does not read them, and drops the connections of a node that stops.
package mock
