// Package votequorum is a client of corosync's votequorum service: the votes
// behind quorum, expected votes, the quorum features in force, and the
// quorum device (qdevice) API, in pure Go.
//
//	c, err := votequorum.Dial(ctx)
//	...
//	defer c.Close()
//	info, err := c.Info(ctx, 0) // 0: this node
//	fmt.Println(info.Quorum, info.TotalVotes, info.Flags)
//	sub, err := c.Subscribe(ctx)
//	for ev := range sub.C() {
//		if !ev.Quorate { stopWork() }
//	}
//
// The package is mostly declarations; the machinery (connection lifecycle,
// request pairing, the dispatcher) is shared with the other service clients. A
// Client holds one connection with tracking on. One dispatcher goroutine reads
// its notifications and fans them out to every subscription (a
// *dispatch.Subscription); each new subscription starts with the cached
// current state (corosync.EventSnapshot), so subscribing costs no round trip.
// Notifications with ids this package does not know are ignored. Requests on
// the connection are sent one at a time.
//
// # Restarts
//
// When the daemon goes away, subscribers get corosync.EventDisconnected, whose
// state is not quorate (fail-safe), and requests fail with ErrNotConnected
// (corosync.ErrLibrary). The client reconnects with backoff, starts tracking
// again, registers again a quorum device registered through it, and
// subscribers get corosync.EventReconnected and a fresh
// corosync.EventSnapshot.
//
// # Quorum devices
//
// A quorum device adds votes decided outside the cluster (corosync-qdevice
// asks a qnetd server). A Go program can be one:
//
//	err := c.QdeviceRegister(ctx, "mydevice")
//	for { // at least every quorum.device.timeout (10 s by default)
//		err = c.QdevicePoll(ctx, "mydevice", castVote, c.Latest().Ring)
//		...
//	}
//
// The device must keep polling with the current ring id: after every
// corosync.EventNodelist, poll at once with its Ring (corosync's sync waits
// for it), and after corosync.EventReconnected poll with the snapshot's Ring
// (the client has already registered the device again; the
// corosync.EventReconnected's Err says if it could not). A device that stops
// polling is marked not alive and its votes are withdrawn; it stays registered
// until QdeviceUnregister.
//
// On corosync's main branch (not in any release yet), a device may also
// publish up to MaxQdeviceExtraInfo bytes of extra info that every node
// keeps: SetQdeviceExtraInfo sets or clears it, QdeviceExtraInfo reads any
// node's, and trackers get corosync.EventQdeviceExtraInfo, with every
// node's in State.QdeviceExtraInfo. main's corosync-quorumtool -s prints it
// after the node's name. On every release these calls fail with
// corosync.ErrNotSupported and nothing is sent: the client tells main from
// a release when it connects (DaemonVersion is corosync.VersionMain).
//
// # What if
//
// Client.WhatIf predicts this node's quorum after nodes stop or fail or the
// quorum device stops voting, from the live state (Info of every node the
// daemon knows and the current membership) run through a model of
// corosync 3.1.7's votequorum rules (the model's predictions are checked
// against what real daemons do after the same changes). With last_man_standing, Outcome.AfterWindow is the state once
// the window has elapsed.
//
//	o, err := c.WhatIf(ctx, votequorum.Change{StopNodes: []uint32{3}})
//	if !o.Quorate { refuseMaintenance() }
//
// # From libvotequorum to Go
//
//	libvotequorum                               corosync-go
//	------------------------------------------  ----------------------------------------------------
//	votequorum_initialize                       votequorum.Dial(ctx, opts...)
//	votequorum_finalize                         Client.Close()
//	votequorum_getinfo(h, nodeid, &info)        Client.Info(ctx, nodeid)  (0: this node) -> Info
//	  info.flags VOTEQUORUM_INFO_*                Info.Flags, FlagTwoNode ... FlagQdeviceMasterWins
//	votequorum_setexpected                      Client.SetExpected(ctx, n)
//	votequorum_setvotes(h, nodeid, votes)       Client.SetVotes(ctx, votequorum.Node(nodeid), votes)
//	votequorum_setvotes(h, 0, votes)            Client.SetVotes(ctx, votequorum.QuorumDevice(), votes)
//	votequorum_trackstart(CS_TRACK_CHANGES)     done by Dial; Client.Subscribe(ctx) per consumer
//	votequorum_trackstart(CS_TRACK_CURRENT)     the first event of a Subscription (corosync.EventSnapshot)
//	votequorum_trackstop                        Subscription.Close (tracking stays on for the client)
//	votequorum_quorum_notification_fn           corosync.EventQuorum: State.Quorate, State.Nodes
//	votequorum_expectedvotes_notification_fn    corosync.EventExpectedVotes: State.ExpectedVotes
//	votequorum_nodelist_notification_fn         corosync.EventNodelist: State.Ring, State.Members
//	votequorum_fd_get + poll                    Subscription.C() in a select
//	votequorum_dispatch(CS_DISPATCH_ONE)        Subscription.Next(ctx)
//	votequorum_dispatch(CS_DISPATCH_ALL)        Subscription.Drain()
//	votequorum_dispatch(CS_DISPATCH_BLOCKING)   Subscription.Run(ctx, fn)
//	votequorum_context_set / _get               (not needed: closures)
//	votequorum_qdevice_register                 Client.QdeviceRegister(ctx, name)
//	votequorum_qdevice_unregister               Client.QdeviceUnregister(ctx, name)
//	votequorum_qdevice_update                   Client.QdeviceUpdate(ctx, oldName, newName)
//	votequorum_qdevice_poll                     Client.QdevicePoll(ctx, name, castVote, ring)
//	votequorum_qdevice_master_wins              Client.QdeviceMasterWins(ctx, name, allow)
//	votequorum_set_qdevice_extra_info (main)    Client.SetQdeviceExtraInfo(ctx, info)
//	votequorum_get_qdevice_extra_info (main)    Client.QdeviceExtraInfo(ctx, nodeid) -> []byte
//	votequorum_qdevice_extra_info_fn (main)     corosync.EventQdeviceExtraInfo: Event.NodeID, State.QdeviceExtraInfo
//	cs_error_t                                  corosync.Error in every error (errors.Is)
//
// Differences from the C library: node id 0 is explicit in SetVotes (Target);
// SetExpected and SetVotes refuse values above MaxVotes, which wrap the
// daemon's 8-bit quorum; qdevice names are checked as the C library checks
// them (1..254 bytes), and a name with a NUL byte is refused too; Info
// returns nothing from an error answer (the C library copies its
// uninitialised body), and QdeviceExtraInfo neither (main's C library
// copies as many bytes as the error answer's unset size says).
//
// Every call takes a context and every error carries a corosync.Error code.
package votequorum
