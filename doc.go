// Package corosync is the root of corosync-go, a pure-Go client for the
// Corosync Cluster Engine. It holds what every service client shares: the
// cs_error_t codes (Error), the error type (OpError), the retry Backoff and
// the kinds of every service's events (EventKind).
//
// The service clients are packages of their own, all built the same way on
// one core (typed events on the streams of package dispatch, reconnection
// with a fail-safe state, the daemon's release learnt before anything is
// sent): quorum, votequorum, cfg, cmap and cpg. quorum, votequorum and cfg
// hold one connection with one dispatcher each; a cmap Client holds one
// connection whose tracks are streams of their own; a cpg Client holds a
// connection for its queries and one more per joined Group, which the
// Group reads. Package client holds the options every Dial takes, package
// status the cluster's whole state in one call, and package mock is a fake
// cluster that serves all five services consistently.
//
// # Quorum in one paragraph
//
// In a corosync cluster each node has votes; a partition of nodes that holds
// more than half of the expected votes is quorate, and only a quorate
// partition may run services that must not run twice (shared storage,
// virtual IPs, leaders). A node that loses quorum, or cannot reach its own
// corosync daemon, must stop such work. Package quorum tells a Go program
// whether its node is quorate, which nodes are members (the view list), the
// ring id of the current membership, and the moment any of it changes.
//
// # Subscriptions
//
// quorum.Dial connects to the local daemon (no cgo: the libqb IPC protocol is
// spoken in Go by package transport), starts tracking and caches the current
// state. Client.Subscribe returns a *dispatch.Subscription whose first event
// is that state; later events arrive as the daemon sends them. One dispatcher
// goroutine per client reads the connection and fans each event out to every
// subscription. A slow subscriber never holds the others up: by default it
// skips to the newest state and Event.Skipped says how many it missed.
// Connection loss is reported in-band (EventDisconnected, not quorate), the
// client reconnects with backoff, and subscribers get EventReconnected and a
// fresh EventSnapshot. Package mock provides a fake cluster to test against.
//
// # From libquorum to Go
//
//	libquorum                              corosync-go
//	-------------------------------------  -------------------------------------------
//	quorum_initialize (V0)                 quorum.Dial(ctx, quorum.WithModel(quorum.ModelV0))
//	quorum_model_initialize (V1)           quorum.Dial(ctx)  (V1 is the default)
//	quorum_type out-parameter              Client.Type()  (QuorumSet or QuorumFree)
//	quorum_getquorate                      Client.Quorate(ctx)
//	quorum_trackstart(CS_TRACK_CHANGES)    done by Dial; Client.Subscribe(ctx) per consumer
//	quorum_trackstart(CS_TRACK_CURRENT)    the first event of a Subscription (EventSnapshot)
//	quorum_trackstop                       Client.StopTracking(ctx)
//	quorum_fd_get + poll                   Subscription.C() in a select
//	quorum_dispatch(CS_DISPATCH_ONE)       Subscription.Next(ctx)
//	quorum_dispatch(CS_DISPATCH_ONE_NONBLOCKING)  Subscription.TryNext()  (corosync.ErrTryAgain if none)
//	quorum_dispatch(CS_DISPATCH_ALL)       Subscription.Drain()
//	quorum_dispatch(CS_DISPATCH_BLOCKING)  Subscription.Run(ctx, fn)
//	quorum_notify_fn / V1 quorum callback  Event with Kind EventQuorum
//	V1 nodelist callback                   Event with Kind EventNodelist (Event.Nodelist)
//	quorum_finalize                        Client.Close(), Subscription.Close()
//	quorum_context_set / _get              closures
//	CS_ERR_* return codes                  errors.Is(err, corosync.ErrTryAgain) etc.
//
// Every call takes a context: there are no unbounded waits, and cancelling a
// call never desynchronises the connection.
//
// # Errors
//
// Errors carry a corosync code and match it with errors.Is through any
// wrapping: corosync.ErrLibrary when corosync is not running or the
// connection was lost, corosync.ErrAccess when this user is not allowed,
// corosync.ErrTryAgain when the daemon asked to retry and ctx ran out first.
package corosync
