package quorum

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/transport"
)

// Model selects the notification model of a connection.
type Model uint32

const (
	// ModelV0 delivers only quorum notifications, with ring_seq but no
	// representative node id (libquorum's quorum_initialize).
	ModelV0 Model = 0
	// ModelV1 adds nodelist notifications (members, joined, left) and full
	// ring ids (quorum_model_initialize with QUORUM_MODEL_V1). The default.
	ModelV1 Model = 1
)

// String returns "v0" or "v1".
func (m Model) String() string {
	if m == ModelV0 {
		return "v0"
	}
	return "v1"
}

// Type is the daemon's quorum type (quorum_initialize's quorum_type).
type Type uint32

const (
	// QuorumFree: no quorum provider is configured; the node is always quorate.
	QuorumFree Type = 0
	// QuorumSet: a provider (votequorum) decides quorum.
	QuorumSet Type = 1
)

// String returns "QUORUM_FREE" or "QUORUM_SET".
func (t Type) String() string {
	if t == QuorumFree {
		return "QUORUM_FREE"
	}
	return "QUORUM_SET"
}

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	Initial    time.Duration // first delay; default 50ms
	Max        time.Duration // cap; default 1s
	Multiplier float64       // growth per attempt; default 2
	Jitter     float64       // ± fraction of randomness, 0..1; default 0.2
}

// DefaultBackoff is the backoff used unless WithBackoff says otherwise.
var DefaultBackoff = Backoff{Initial: 50 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.2}

// Delay returns the delay before retry number attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	d := float64(b.Initial)
	for i := 0; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

func (b Backoff) normalized() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = max(DefaultBackoff.Max, b.Initial)
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	b.Jitter = min(max(b.Jitter, 0), 1)
	return b
}

type config struct {
	model      Model
	dialer     transport.Dialer
	reconnect  bool
	waitDaemon bool
	backoff    Backoff
	logger     *slog.Logger
}

// Option configures Dial.
type Option func(*config)

// WithModel selects the notification model (default ModelV1).
func WithModel(m Model) Option { return func(c *config) { c.model = m } }

// WithDialer replaces the transport: for example mock.Cluster's nodes in
// tests, or transport.NewDialer with a non-default transport.Config.
func WithDialer(d transport.Dialer) Option { return func(c *config) { c.dialer = d } }

// WithReconnect turns automatic reconnection on (the default) or off. With it
// off, a lost connection ends every subscription after an EventDisconnected.
func WithReconnect(on bool) Option { return func(c *config) { c.reconnect = on } }

// WithWaitForDaemon makes Dial wait, retrying with backoff, for a daemon that
// is not running yet, instead of failing at once with corosync.ErrLibrary.
// Dial then fails only when its ctx ends (or on an error retrying cannot fix,
// such as corosync.ErrAccess).
func WithWaitForDaemon() Option { return func(c *config) { c.waitDaemon = true } }

// WithBackoff sets the retry backoff for reconnection and TRY_AGAIN.
func WithBackoff(b Backoff) Option { return func(c *config) { c.backoff = b.normalized() } }

// WithLogger makes the client log connection changes and retries. The client
// is silent by default.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// SubscribeOption configures a subscription's delivery policy; see package
// dispatch for the policies.
type SubscribeOption = dispatch.SubOption

// Latest selects latest-wins delivery (the default): a slow subscriber skips
// to the newest event and Event.Skipped says how many it missed.
func Latest() SubscribeOption { return dispatch.Latest() }

// Queue selects a bounded queue of n events; on overflow the subscription
// ends with dispatch.ErrOverflow (corosync.ErrQueueFull).
func Queue(n int) SubscribeOption { return dispatch.Queue(n) }

// Block selects blocking delivery: nothing is lost, but this subscriber
// holds up every other one while it does not read.
func Block(n int) SubscribeOption { return dispatch.Block(n) }

// Subscription delivers Events; see dispatch.Subscription for its methods
// (Next, TryNext, Drain, Run, C, All, Err, Skipped, Close).
type Subscription = dispatch.Subscription[Event]
