package votequorum

import (
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
}

// SubscribeOption configures a subscription's delivery policy; see package
// dispatch for the policies.
type SubscribeOption = dispatch.SubOption

// LatestWins selects latest-wins delivery (the default): a slow subscriber
// skips to the newest event and Event.Skipped says how many it missed.
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
