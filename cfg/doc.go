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
// A client dialed WithShutdownTracking is a shutdown tracker: when anyone
// asks the local daemon to shut down (corosync-cfgtool -H, Client.Shutdown
// with ShutdownRequest or ShutdownRegardless), subscribers receive
// EventShutdownRequest and one of them answers with Client.ReplyShutdown
// (ShutdownNo or ShutdownYes). Tracking is restored after every reconnect;
// subscribers see EventDisconnected, EventReconnected and EventSnapshot as
// in package quorum. Unknown event ids from the daemon are ignored.
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
//	shutdown_callback                    EventShutdownRequest
//	corosync_cfg_ring_reenable           not offered (3.x always answers CS_ERR_NOT_SUPPORTED)
//
// Errors are *corosync.OpError values carrying the daemon's code (use
// errors.Is with corosync.ErrBusy, corosync.ErrNotExist, ...).
package cfg
