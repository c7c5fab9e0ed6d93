//go:build oracle && linux

package oracle

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Normalise turns our events into the callback sequence libquorum produces
// for them: a V1 snapshot is a nodelist callback then a quorum callback.
func Normalise(evs []quorum.Event) []Event {
	var out []Event
	for _, e := range evs {
		switch e.Kind {
		case corosync.EventNodelist:
			n := e.Nodelist
			out = append(out, Event{Kind: "nodelist", Node: n.Ring.NodeID, Seq: n.Ring.Seq, Members: n.Members, Joined: n.Joined, Left: n.Left})
		case corosync.EventSnapshot, corosync.EventQuorum:
			if e.Kind == corosync.EventSnapshot && e.Nodelist != nil {
				n := e.Nodelist
				out = append(out, Event{Kind: "nodelist", Node: n.Ring.NodeID, Seq: n.Ring.Seq, Members: n.Members, Joined: []uint32{}, Left: []uint32{}})
			}
			out = append(out, Event{Kind: "quorum", Quorate: e.Quorate, Node: e.Ring.NodeID, Seq: e.Ring.Seq, Members: e.Members})
		}
	}
	return out
}

func sameEvents(a, b []Event) bool {
	return slices.EqualFunc(a, b, Event.Equal)
}

// Pair is our client and libquorum on the same node, both tracking changes.
type Pair struct {
	t      testing.TB
	Ours   *quorum.Client
	Sub    *dispatch.Subscription[quorum.Event]
	Oracle *Client
}

func NewPair(t testing.TB, n *corotest.Node, model quorum.Model) *Pair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ours, err := quorum.Dial(ctx, client.WithDialer(n.Dialer()), quorum.WithModel(model))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := ours.Subscribe(ctx, dispatch.Queue(256))
	if err != nil {
		t.Fatal(err)
	}
	or, err := Open(n.NetNSPath(), int(model))
	if err != nil {
		t.Fatal(err)
	}
	p := &Pair{t: t, Ours: ours, Sub: sub, Oracle: or}
	t.Cleanup(p.Close)
	if uint32(ours.Type()) != or.Type {
		t.Fatalf("type: ours %v, libquorum %d", ours.Type(), or.Type)
	}
	if err := or.TrackStart(2); err != nil { // CS_TRACK_CHANGES, as Dial does
		t.Fatal(err)
	}
	return p
}

func (p *Pair) Close() {
	p.Sub.Close()
	p.Ours.Close()
	if p.Oracle != nil {
		p.Oracle.Finalize()
		p.Oracle = nil
	}
}

// Step waits for n callbacks from libquorum and the matching events from
// us, and fails unless they are equal. Lifecycle events on our side are
// returned separately.
func (p *Pair) Step(name string, n int) (ours []quorum.Event) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want, err := p.Oracle.WaitEvents(ctx, n)
	if err != nil {
		p.t.Fatalf("%s: libquorum: %v (got %v)", name, err, want)
	}
	var got []Event
	for len(got) < len(want) {
		ev, err := p.Sub.Next(ctx)
		if err != nil {
			p.t.Fatalf("%s: ours: %v (got %v, libquorum %v)", name, err, got, want)
		}
		ours = append(ours, ev)
		got = append(got, Normalise([]quorum.Event{ev})...)
	}
	if !sameEvents(got, want) {
		p.t.Fatalf("%s: events differ\n ours:      %v\n libquorum: %v", name, got, want)
	}
	p.t.Logf("%s: %v", name, want)
	return ours
}

// Quiet checks that neither side delivers anything for a while.
func (p *Pair) Quiet(name string, d time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if evs, _ := p.Oracle.WaitEvents(ctx, 1); len(evs) > 0 {
		p.t.Fatalf("%s: libquorum got %v", name, evs)
	}
	if ev, err := p.Sub.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		p.t.Fatalf("%s: ours got %v (%v)", name, ev, err)
	}
}

func TestDifferentialSingleNode(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	for _, model := range []quorum.Model{quorum.ModelV1, quorum.ModelV0} {
		t.Run(model.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := NewPair(t, n, model)
			q1, err1 := p.Ours.Quorate(ctx)
			q2, err2 := p.Oracle.GetQuorate()
			if q1 != q2 || err1 != nil || err2 != nil {
				t.Fatalf("getquorate: ours %v %v, libquorum %v %v", q1, err1, q2, err2)
			}
			snapN := 1
			if model == quorum.ModelV1 {
				snapN = 2
			}
			p.Step("snapshot", snapN)
			if err := n.SetExpectedVotes(ctx, 2); err != nil {
				t.Fatal(err)
			}
			p.Step("quorum lost", 1)
			q1, _ = p.Ours.Quorate(ctx)
			q2, _ = p.Oracle.GetQuorate()
			if q1 || q2 {
				t.Fatalf("getquorate while inquorate: ours %v libquorum %v", q1, q2)
			}
			if err := n.SetExpectedVotes(ctx, 1); err != nil {
				t.Fatal(err)
			}
			p.Step("quorum regained", 1)
			// trackstop: both return OK and neither sees later changes.
			if err1, err2 := p.Ours.StopTracking(ctx), p.Oracle.TrackStop(); err1 != nil || err2 != nil {
				t.Fatalf("trackstop: ours %v, libquorum %v", err1, err2)
			}
			n.SetExpectedVotes(ctx, 2)
			p.Quiet("after trackstop", 500*time.Millisecond)
			n.SetExpectedVotes(ctx, 1)
			// Close / finalize: both succeed, and later calls fail with BAD_HANDLE.
			p.Sub.Close()
			if err1, err2 := p.Ours.Close(), p.Oracle.Finalize(); err1 != nil || err2 != nil {
				t.Fatalf("close: ours %v, libquorum %v", err1, err2)
			}
			_, err1 = p.Ours.Quorate(ctx)
			_, err2 = p.Oracle.GetQuorate()
			if !errors.Is(err1, corosync.ErrBadHandle) || !errors.Is(err2, corosync.ErrBadHandle) {
				t.Fatalf("after close: ours %v, libquorum %v", err1, err2)
			}
			p.Oracle = nil
		})
	}
}

// BenchmarkGetQuorate measures one getquorate round trip through our
// transport and through C libquorum against the same daemon, in one run.
func BenchmarkGetQuorate(b *testing.B) {
	cl := corotest.Start(b, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := context.Background()
	ours, err := quorum.Dial(ctx, client.WithDialer(n.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer ours.Close()
	or, err := Open(n.NetNSPath(), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer or.Finalize()
	run := func(b *testing.B, f func() error) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < 100; i++ { // warm up
			f()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
	nospin, err := quorum.Dial(ctx, client.WithDialer(transport.NewDialer(transport.Config{NetNS: n.NetNSPath(), SpinWait: -1})))
	if err != nil {
		b.Fatal(err)
	}
	defer nospin.Close()
	b.Run("libquorum-first", func(b *testing.B) {
		run(b, func() error { _, err := or.GetQuorate(); return err })
	})
	b.Run("go", func(b *testing.B) {
		run(b, func() error { _, err := ours.Quorate(ctx); return err })
	})
	b.Run("go-nospin", func(b *testing.B) {
		run(b, func() error { _, err := nospin.Quorate(ctx); return err })
	})
	b.Run("libquorum", func(b *testing.B) {
		run(b, func() error { _, err := or.GetQuorate(); return err })
	})
}
