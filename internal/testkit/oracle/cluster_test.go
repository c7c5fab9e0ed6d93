//go:build oracle && linux

package oracle

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
)

// settle collects events from both clients until the last quorum event on
// each side says quorate == q with exactly members, and then nothing more
// arrives for a while; it fails unless both sequences are equal.
func (p *Pair) settle(name string, q bool, members ...uint32) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := func(evs []Event) bool {
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Kind == "quorum" {
				return evs[i].Quorate == q && slices.Equal(evs[i].Members, members)
			}
		}
		return false
	}
	var want, got []Event
	var ours []quorum.Event
	quietSince := time.Time{}
	for {
		more, err := p.Oracle.WaitEvents(ctx, 0)
		if err != nil {
			p.t.Fatalf("%s: libquorum: %v", name, err)
		}
		want = append(want, more...)
		for {
			ev, err := p.Sub.TryNext()
			if errors.Is(err, corosync.ErrTryAgain) {
				break
			}
			if err != nil {
				p.t.Fatalf("%s: ours: %v", name, err)
			}
			ours = append(ours, ev)
			got = append(got, Normalise([]quorum.Event{ev})...)
			more = append(more, Event{})
		}
		if len(more) > 0 {
			quietSince = time.Now()
		}
		if done(want) && done(got) && time.Since(quietSince) > 1500*time.Millisecond {
			break
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("%s: did not settle on quorate=%v members %v\n ours:      %v\n libquorum: %v", name, q, members, got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !sameEvents(got, want) {
		p.t.Fatalf("%s: events differ\n ours:      %v\n libquorum: %v", name, got, want)
	}
	for _, ev := range ours {
		if ev.Kind == corosync.EventDisconnected || ev.Kind == corosync.EventReconnected {
			p.t.Fatalf("%s: unexpected lifecycle event %v", name, ev)
		}
	}
	p.t.Logf("%s: %d events, equal: %v", name, len(want), want)
}

// restartOwn restarts node 1's own daemon (kill -9 or graceful) and checks
// the lifecycle around it: EventDisconnected (not quorate) while it is gone,
// then EventReconnected and EventSnapshot, and a final state equal to what a
// fresh libquorum client and corosync-quorumtool report.
func restartOwn(t *testing.T, cl *corotest.Cluster, p *Pair, model quorum.Model, kill bool) {
	t.Helper()
	n := cl.Node(1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if kill {
		n.Kill()
	} else {
		n.Stop()
	}
	ev, err := p.Sub.Next(ctx)
	if err != nil || ev.Kind != corosync.EventDisconnected || ev.Quorate {
		t.Fatalf("after node 1's daemon went: %v %v", ev, err)
	}
	if err := p.Oracle.Dispatch(2); !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("libquorum dispatch with the daemon gone: %v, want CS_ERR_LIBRARY", err)
	}
	p.Oracle.Finalize()
	p.Oracle = nil
	if _, err := p.Ours.Quorate(ctx); !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("Quorate with the daemon gone: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // gone for a while: the client keeps retrying
	if p.Ours.Latest().Quorate {
		t.Fatal("told quorate while the daemon is gone")
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	// Lifecycle: reconnected, then a snapshot; nothing quorate before that.
	var sawReconnected bool
	for {
		ev, err := p.Sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for the reconnect: %v", err)
		}
		if !sawReconnected {
			if ev.Kind != corosync.EventReconnected {
				t.Fatalf("first event after the restart: %v", ev)
			}
			sawReconnected = true
			continue
		}
		if ev.Kind != corosync.EventSnapshot {
			t.Fatalf("after EventReconnected: %v", ev)
		}
		break
	}
	if err := n.WaitMembers(ctx, cl.IDs()...); err != nil {
		t.Fatal(err)
	}
	// Drain what the rejoin produced, then compare the settled state with a
	// fresh libquorum client and with corosync-quorumtool.
	time.Sleep(1500 * time.Millisecond)
	p.Sub.Drain()
	or, err := Open(n.NetNSPath(), int(model))
	if err != nil {
		t.Fatal(err)
	}
	p.Oracle = or
	if err := or.TrackStart(2); err != nil {
		t.Fatal(err)
	}
	snapN := 1
	if model == quorum.ModelV1 {
		snapN = 2
	}
	want, err := or.WaitEvents(ctx, snapN)
	if err != nil {
		t.Fatal(err)
	}
	got := Normalise([]quorum.Event{p.Ours.Latest()})
	if !sameEvents(got, want) {
		t.Fatalf("state after the restart differs\n ours:      %v\n libquorum: %v", got, want)
	}
	q, _, err := n.QuorumTool(ctx)
	if err != nil || q != p.Ours.Latest().Quorate {
		t.Fatalf("corosync-quorumtool says quorate=%v (%v), we say %v", q, err, p.Ours.Latest().Quorate)
	}
	t.Logf("restart (kill=%v): reconnected; state %v", kill, want)
}

// Scenario on a real 3-node cluster with our client and libquorum on node 1.
func TestClusterScenario(t *testing.T) {
	for _, model := range []quorum.Model{quorum.ModelV1, quorum.ModelV0} {
		t.Run(model.String(), func(t *testing.T) {
			cl := corotest.Start(t, 3, corotest.Options{})
			p := NewPair(t, cl.Node(1), model)
			snapN := 1
			if model == quorum.ModelV1 {
				snapN = 2
			}
			p.Step("snapshot", snapN)

			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(cl.Node(3).Kill())
			p.settle("kill node 3", true, 1, 2)
			must(cl.Node(1).Unplug())
			p.settle("partition node 1", false, 1)
			must(cl.Heal())
			p.settle("heal", true, 1, 2)
			must(cl.Node(3).Start())
			p.settle("restart node 3", true, 1, 2, 3)

			restartOwn(t, cl, p, model, true)
			restartOwn(t, cl, p, model, false)
		})
	}
}
