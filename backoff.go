package corosync

import (
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter: how the service
// clients pace reconnection attempts and TRY_AGAIN retries. Zero fields take
// DefaultBackoff's values.
type Backoff struct {
	Initial    time.Duration // first delay; default 50ms
	Max        time.Duration // cap; default 250ms
	Multiplier float64       // growth per attempt, at least 1; default 2
	Jitter     float64       // ± fraction of randomness, 0..1; default 0.2
}

// DefaultBackoff is the backoff of every client unless configured otherwise.
// Its cap bounds how long a client takes to notice a restarted daemon (the
// recovery p99 of RELIABILITY.md); a connection attempt while no daemon runs
// is refused by the kernel at once, so retrying four times a second costs
// corosync nothing.
var DefaultBackoff = Backoff{Initial: 50 * time.Millisecond, Max: 250 * time.Millisecond, Multiplier: 2, Jitter: 0.2}

// Delay returns the delay before retry number attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.normalized()
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
