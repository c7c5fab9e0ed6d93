package cfg

import (
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
	tracking bool
}

// WithShutdownTracking registers the client as a shutdown tracker
// (corosync_cfg_trackstart) at Dial and again after every reconnect. The
// daemon then asks it about every shutdown request: subscribers receive
// corosync.EventShutdownRequest, and someone must answer with Client.ReplyShutdown
// before cfg.shutdown_timeout (default 5 s) runs out, or the daemon counts
// the silence as NO. Without this option the client never sees shutdown
// requests.
//
// Shutdown tracking needs corosync 3.1 (TRACKSTART arrived in 3.1.1; see
// corosync.Version for what the client can tell): on an older daemon Dial
// fails with corosync.ErrNotSupported and nothing is sent.
func WithShutdownTracking() client.Option {
	return client.ForService("cfg.WithShutdownTracking", func(c *config) { c.tracking = true })
}

// SubscribeOption configures a subscription's delivery policy; see package
// dispatch for the policies.
type SubscribeOption = dispatch.SubOption

// LatestWins selects latest-wins delivery (the default): a slow subscriber
// skips to the newest event and Event.Skipped says how many it missed. A
// subscriber that must answer every shutdown request should use Queue or
// Block instead.
func LatestWins() SubscribeOption { return dispatch.LatestWins() }

// Queue selects a bounded queue of n events; on overflow the subscription
// ends with dispatch.ErrOverflow (corosync.ErrQueueFull).
func Queue(n int) SubscribeOption { return dispatch.Queue(n) }

// Block selects blocking delivery: nothing is lost, but this subscriber
// holds up every other one while it does not read.
func Block(n int) SubscribeOption { return dispatch.Block(n) }

// Subscription delivers Events; see dispatch.Subscription for its methods
// (Next, TryNext, Drain, Run, C, All, Err, Skipped, Close).
type Subscription = dispatch.Subscription[Event]
