// Package cpg is a client of corosync's closed process group (cpg) service
// in pure Go: join groups, multicast messages that every member delivers in
// the same total order, and follow the membership with virtual synchrony
// (a configuration change is delivered at the same point of the message
// stream by every member that survives it).
//
//	c, err := cpg.Dial(ctx)
//	...
//	defer c.Close()
//	g, err := c.Join(ctx, "my-group")
//	...
//	defer g.Close()
//	err = g.Send(ctx, []byte("hello"), cpg.Agreed)
//	for ev, err := range g.All(ctx) {
//		if err != nil {
//			return err // ErrLeft, ErrOverflow, ErrMembershipLost, ...
//		}
//		switch ev.Kind {
//		case corosync.EventMessage:  // ev.Sender, ev.Data
//		case corosync.EventConfchg:  // ev.Members, ev.Joined, ev.Left (with reasons)
//		case corosync.EventTotem:    // ev.Ring, ev.Nodes
//		}
//	}
//
// # A cpg view is not quorum
//
// A group's membership (corosync.EventConfchg's Members) is who this node's
// partition can reach, not whether the partition may act: when the network
// splits, each side gets a confchg that removes the other side's members,
// and each side carries on as a complete, smaller group. cpg never refuses
// a join, a message or a view for lack of quorum. So an election that picks
// "the lowest member of the view" as leader elects one leader per
// partition, and a node cut off alone becomes its own leader.
//
// Gate leadership on quorum: act as leader only while the node is quorate
// (package quorum: Event.Quorate, or quorum.Client.Quorate), and step down
// at once on a quorum loss or a corosync.EventDisconnected of either stream. A
// minority partition then has a view and a candidate, but never acts. The
// README's election recipe does exactly this.
//
// # One group per connection
//
// corosync 3.1.7 lets a cpg connection join one group, once: a second join
// is refused, and a connection that left can never join again (it stays
// "leave started": EXIST or BUSY forever, while it still receives the
// group's messages; measured, see docs/cpg-protocol.md in the module). So the Client's
// own connection answers the questions that need no membership
// (LocalNodeID, Members, Groups, GroupNames), and each Join opens a new
// connection that the returned Group owns. Leave leaves, finalizes and
// closes that connection; to be a member again, Join again. A process can
// hold any number of Groups, also of the same group under different pids
// (WithPID): the daemon refuses a second member with the same pid in one
// group on one node (EXIST).
//
// # Goodbyes
//
// The daemon answers a leave right after a join with BUSY until the join
// has gone round totem; Leave asks again, as libcpg's cpg_leave does, so
// BUSY never reaches the caller and the stream ends with ErrLeft. Every
// connection a Group or Client closes (Close, Leave, a Queue overflow, a
// Join whose ctx ended mid-way, undone in the background) is finalized
// first, as cpg_finalize does: the daemon stops sending it events, of
// which each one sent to a closed connection is an error in its log
// ("event_send retuned -32"). Events the daemon still held for it are
// taken in before the close. Measured: 300 Join+Leave, Join+Close and
// abandoned Joins on every release of the matrix, no error line in any
// daemon's log.
//
// # Messages
//
// Group.Send multicasts to the group; the daemon does not answer an mcast,
// so Send returns once the message is handed to the daemon. Messages up to
// MaxAtomicMessage (1047552 bytes) go as one mcast; larger ones in
// fragments exactly as libcpg sends them (so C members reassemble them
// too), reassembled here before delivery. Flow control (TRY_AGAIN) is
// waited out with backoff until Send's ctx ends (FlowControlled reports it
// meanwhile); a message is never sent twice and never partly: a fragmented
// message cut by a configuration change (CS_ERR_INTERRUPT) is sent again
// from its first fragment, and receivers drop the incomplete copy.
// Fragments of a sender that leaves mid-message are dropped with it.
//
// # Slow readers
//
// A group's events are never dropped silently, and a slow reader never
// makes the daemon hold events for it. corosync has no flow control from a
// receiver back to the senders (its flow control reflects only totem's
// send queue; exec/ipc_glue.c): when a client stops taking events, the
// daemon queues them for that connection without limit, retries the full
// ring from its main loop and logs "Q empty" once it has drained them
// (measured: 8.8 MB of events queued for a member that read nothing, all
// delivered in order later; docs/cpg-protocol.md). So a group's event
// pump always takes events from the daemon as they come, whatever the
// reader does, and what the reader has not read is held here:
//
//   - Unbounded (the default): the backlog grows in this process's memory
//     (Group.Backlog says how far behind the reader is); nothing is lost
//     and the daemon and its other clients do not notice (tested with
//     corosync's own IPC statistics: nothing queued for the connection).
//   - Queue(n): when the reader is n events behind, the group ends with
//     ErrOverflow (corosync.ErrQueueFull) after the reader got every event
//     before the one that did not fit, and its connection is closed: the
//     other members see it leave (reason procdown) at that point of their
//     streams. No member stays in a group with a gap in its stream.
//
// A sender is held back only by the daemon's flow control (Send waits out
// TRY_AGAIN; FlowControlled reports it), as libcpg's is.
//
// Who reads the connection: a reader waiting in Next (or Run, All, C) with
// nothing in the backlog reads the daemon's events itself, on its own
// goroutine, as libcpg's dispatch does, taking every event the daemon has
// already posted; no goroutine hand-over stands between the daemon's event
// and the reader (a third of the latency gap to libcpg was that hand-over;
// BENCHMARKS.md). Once no reader has read for a millisecond, the pump
// reads again, so a reader that stops reading leaves the daemon's events
// unread for at most about two milliseconds before they are taken into the
// backlog.
//
// # Restarts
//
// When the connection to the daemon is lost (a daemon restart, a crash), the
// daemon's membership of the group is gone. The stream delivers
// corosync.EventDisconnected (Err says why). By default it then ends with an
// error carrying ErrMembershipLost, dispatch.ErrLost and corosync.ErrLibrary.
// With WithRejoin, the group joins again on a new connection as soon as the
// daemon is back and delivers corosync.EventReconnected, then the daemon's
// confchg of the new join: whatever happened in the group meanwhile was not
// seen, and the stream says so instead of pretending continuity. If the daemon
// refuses the rejoin for good (access denied), the stream ends with
// dispatch.ErrLost and that error (corosync.ErrAccess). The Client's own
// connection reconnects (unless client.WithoutReconnect) without any group.
//
// # The stream
//
// A Group is a dispatch.Subscription: it is read, and it ends, as every
// stream of this module (package dispatch, "How a stream ends"): Close of
// the group or of its Client (dispatch.ErrClosed, corosync.ErrBadHandle;
// unread events are discarded), a Queue overflow (ErrOverflow,
// corosync.ErrQueueFull), the connection gone for good (dispatch.ErrLost),
// or cpg's own end: the group left (ErrLeft, after its leave confchg).
//
// # What libcpg does differently
//
// libcpg's cpg_flow_control_state_get reads a word in the shared ring that
// this transport does not map; FlowControlled reports what Send met. The
// zero-copy calls are not offered (Send does the same job; on the daemon
// they open files and use addresses the client names, and a failure aborts
// the daemon; they are gone after 3.1.10). An mcast
// larger than 1048392 bytes would break every receiver's connection (the
// daemon writes an event over the negotiated 1 MiB; libcpg wedges, our
// transport delivers it): Send fragments at MaxAtomicMessage like libcpg, so
// it never produces one, and such an event from another client is still
// delivered here (the transport takes events up to its ring's size).
package cpg
