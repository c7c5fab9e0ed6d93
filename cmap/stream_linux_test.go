package cmap_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/dispatch/streamtest"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/testkit/streamkit"
)

// streamHarness runs the stream conformance suite (dispatch/streamtest)
// against cmap's tracks, on the backend it is given: a prefix track whose
// trigger is a change of a key under it, made as an administrator would.
type streamHarness struct{ backend streamkit.Factory }

func (h streamHarness) Open(t testing.TB, c streamtest.Config) (*streamtest.Fixture[cmap.Event], bool) {
	b := h.backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cmap.Dial(ctx, streamkit.DialOptions(b.Dialer(), c.Reconnect)...)
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
	tr, err := cl.Track(ctx, "streamtest.", cmap.TrackChanges|cmap.TrackPrefix, opt)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint32
	trigger := func(t testing.TB) { b.Cmap(t, "streamtest.k", n.Add(1)) }
	return &streamtest.Fixture[cmap.Event]{Stream: tr, CloseClient: cl.Close, Trigger: trigger,
		Restart: b.Restart, Deny: b.Deny}, true
}

func (streamHarness) Kind(ev cmap.Event) corosync.EventKind { return ev.Kind }

// The conformance suite on the mock cluster.
func TestStreamConformanceMock(t *testing.T) { streamtest.Run(t, streamHarness{streamkit.Mock}) }

// The conformance suite on a real daemon; its client runs as nobody, so
// that the daemon can refuse it.
func TestStreamConformanceReal(t *testing.T) {
	corotest.Sparse(t, "client-side stream semantics", "2.4.6")
	streamtest.Run(t, streamHarness{streamkit.Real})
}
