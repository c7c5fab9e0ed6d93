package cfg_test

import (
	"context"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/dispatch/streamtest"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/testkit/streamkit"
)

// streamHarness runs the stream conformance suite (dispatch/streamtest)
// against cfg's subscriptions, on the backend it is given. Restarting
// the daemon is its trigger: the one event source a one-node cluster has.
type streamHarness struct{ backend streamkit.Factory }

func (h streamHarness) Open(t testing.TB, c streamtest.Config) (*streamtest.Fixture[cfg.Event], bool) {
	b := h.backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cfg.Dial(ctx, streamkit.DialOptions(b.Dialer(), c.Reconnect)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	opt := dispatch.LatestWins()
	switch c.Policy {
	case streamtest.Queue:
		opt = dispatch.Queue(c.N)
	case streamtest.Unbounded:
		opt = dispatch.Unbounded()
	}
	s, err := cl.Subscribe(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	return &streamtest.Fixture[cfg.Event]{Stream: s, CloseClient: cl.Close, Trigger: b.Restart, Burst: b.RestartBurst(),
		Restart: b.Restart, Deny: b.Deny}, true
}

func (streamHarness) Kind(ev cfg.Event) corosync.EventKind { return ev.Kind }

// The conformance suite on the mock cluster.
func TestStreamConformanceMock(t *testing.T) { streamtest.Run(t, streamHarness{streamkit.Mock}) }

// The conformance suite on a real daemon; its client runs as nobody, so
// that the daemon can refuse it.
func TestStreamConformanceReal(t *testing.T) {
	corotest.Sparse(t, "client-side stream semantics", "2.4.6")
	streamtest.Run(t, streamHarness{streamkit.Real})
}
