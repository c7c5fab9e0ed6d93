package cpg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/dispatch/streamtest"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/testkit/streamkit"
)

// streamHarness runs the stream conformance suite (dispatch/streamtest)
// against cpg's groups, on the backend it is given: a group whose trigger
// is a message it sends itself (delivered to it too). A group offers
// Unbounded (its default) and Queue, not LatestWins: a gap would break
// virtual synchrony.
type streamHarness struct{ backend streamkit.Factory }

func (h streamHarness) Open(t testing.TB, c streamtest.Config) (*streamtest.Fixture[cpg.Event], bool) {
	if c.Policy == streamtest.Latest {
		return nil, false
	}
	b := h.backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cpg.Dial(ctx, streamkit.DialOptions(b.Dialer(), c.Reconnect)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	opt := cpg.Unbounded()
	if c.Policy == streamtest.Queue {
		opt = cpg.Queue(c.N)
	}
	jopts := []cpg.JoinOption{opt}
	if c.Reconnect {
		jopts = append(jopts, cpg.WithRejoin())
	}
	g, err := cl.Join(ctx, "streamtest", jopts...)
	if err != nil {
		t.Fatal(err)
	}
	trigger := func(t testing.TB) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A Queue(1) group may overflow on its own join's events: it has
		// left then, and sends fail with the overflow.
		if err := g.Send(ctx, []byte("streamtest"), cpg.Agreed); err != nil && !errors.Is(err, cpg.ErrOverflow) {
			t.Fatalf("send: %v", err)
		}
	}
	return &streamtest.Fixture[cpg.Event]{Stream: g, CloseClient: cl.Close, Trigger: trigger,
		Restart: b.Restart, Deny: b.Deny}, true
}

func (streamHarness) Kind(ev cpg.Event) corosync.EventKind { return ev.Kind }

// The conformance suite on the mock cluster.
func TestStreamConformanceMock(t *testing.T) { streamtest.Run(t, streamHarness{streamkit.Mock}) }

// The conformance suite on a real daemon; its client runs as nobody, so
// that the daemon can refuse it.
func TestStreamConformanceReal(t *testing.T) {
	corotest.Sparse(t, "client-side stream semantics", "2.4.6")
	streamtest.Run(t, streamHarness{streamkit.Real})
}
