package cfg

import (
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
	tracking bool
}

// WithShutdownTracking registers the client as a shutdown tracker
// (corosync_cfg_trackstart) at Dial and again after every reconnect. The
// daemon then asks it about every shutdown request: subscribers receive
// corosync.EventShutdownRequest, and someone must answer with
// Client.ReplyShutdown before cfg.shutdown_timeout (default 5 s) runs out, or
// the daemon counts the silence as NO. Without this option the client never
// sees shutdown requests.
//
// Shutdown tracking needs corosync 3.1 (TRACKSTART arrived in 3.1.1; see
// corosync.Version for what the client can tell): on an older daemon Dial
// fails with corosync.ErrNotSupported and nothing is sent.
func WithShutdownTracking() client.Option {
	return client.ForService("cfg.WithShutdownTracking", func(c *config) { c.tracking = true })
}
