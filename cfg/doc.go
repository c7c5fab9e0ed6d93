// Package cfg is a client of corosync's cfg service: node and link status,
// configuration reload, log reopening, killing a node, and shutdown
// coordination.
//
//	c, err := cfg.Dial(ctx)
//	...
//	defer c.Close()
//	st, err := c.NodeStatus(ctx, 2)
//	if err == nil && !st.Reachable { ... }
//
// # Shutdown coordination
//
// A client dialed WithShutdownTracking is a shutdown tracker: when anyone asks
// the local daemon to shut down (corosync-cfgtool -H, Client.Shutdown with
// ShutdownRequest or ShutdownRegardless), subscribers receive
// corosync.EventShutdownRequest and one of them answers with
// Client.ReplyShutdown (ShutdownNo or ShutdownYes). Tracking is restored after
// every reconnect; subscribers see corosync.EventDisconnected,
// corosync.EventReconnected and corosync.EventSnapshot as in package quorum.
// Unknown event ids from the daemon are ignored.
//
// # What corosync 3.1.7 does, as a caller sees it
//
// Replies held back. Client.Shutdown with ShutdownRequest or
// ShutdownRegardless returns only when the daemon has decided: right
// after the last tracker's answer (a few milliseconds), or after
// cfg.shutdown_timeout (5 s by default) when a tracker stays silent. The
// answers are: every tracker YES → nil and the daemon exits; a NO or
// silence with ShutdownRequest → corosync.ErrBusy and the daemon stays;
// ShutdownRegardless → nil and the daemon exits whatever they said;
// ShutdownImmediate → nil at once, no tracker asked, the daemon exits.
// corosync-cfgtool -H (REQUEST) and -H --force (REGARDLESS) get the same
// answers, and libcfg's own trackers see the same as this package's (the
// module's tests check all of this against real daemons and libcfg).
// Client.Reload is held back too, until
// the cluster has delivered the reload (2.2 s while a node is being lost).
// A Client carries one request at a time, so its other calls wait behind a
// held-back one; give ctx room for the timeout.
//
// Any connection may vote. The daemon counts every ReplyShutdown made while
// a shutdown is pending, from a tracker or not, and does not de-duplicate:
// two NO answers from one Client count as two trackers' answers and can end
// the wait early. Answer once, from one subscriber. With nothing pending
// ReplyShutdown fails with corosync.ErrAccess (libcfg returns CS_OK).
//
// IPv6 skip. Client.NodeAddrs omits IPv6 addresses whose first 16-bit
// group is zero (::1, ::ffff:a.b.c.d): the daemon takes them for an empty
// slot and does not count them, and corosync-cfgtool -a omits them too.
// Other IPv6 addresses (fd00::1) are returned.
//
// Onwire zero. NodeStatus.OnwireMin, OnwireMax and OnwireVer are 0 for
// every node: Debian 12's corosync 3.1.7 is built without knet on-wire
// version support and never fills them. Do not read 0 as "old peer".
//
// # Mapping from libcfg
//
//	libcfg (corosync 3.1.7)              package cfg
//	corosync_cfg_initialize              Dial
//	corosync_cfg_finalize                Client.Close
//	corosync_cfg_fd_get, _dispatch       Client.Subscribe (one goroutine reads)
//	corosync_cfg_local_get               Client.LocalNodeID
//	corosync_cfg_node_status_get (V1)    Client.NodeStatus
//	corosync_cfg_ring_status_get         Client.RingStatus
//	corosync_cfg_get_node_addrs          Client.NodeAddrs
//	corosync_cfg_reload_config           Client.Reload
//	corosync_cfg_reopen_log_files        Client.ReopenLog
//	corosync_cfg_kill_node               Client.KillNode
//	corosync_cfg_try_shutdown            Client.Shutdown
//	corosync_cfg_replyto_shutdown        Client.ReplyShutdown
//	corosync_cfg_trackstart              WithShutdownTracking (at Dial and each reconnect)
//	corosync_cfg_trackstop               Client.Close
//	shutdown_callback                    corosync.EventShutdownRequest
//	corosync_cfg_ring_reenable           not offered (3.x always answers CS_ERR_NOT_SUPPORTED)
//
// Errors are *corosync.OpError values carrying the daemon's code (use
// errors.Is with corosync.ErrBusy, corosync.ErrNotExist, ...).
package cfg
