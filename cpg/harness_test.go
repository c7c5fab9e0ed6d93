package cpg_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/transport"
)

var fast = cpg.WithBackoff(cpg.Backoff{Initial: 2 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2})

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t testing.TB, d transport.Dialer, opts ...cpg.Option) *cpg.Client {
	t.Helper()
	c, err := cpg.Dial(ctxT(t, 10*time.Second), append([]cpg.Option{cpg.WithDialer(d), fast}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// key renders an event for sequence comparison: messages and group
// confchgs (totem events are left out).
func key(e cpg.Event) string {
	switch e.Kind {
	case cpg.EventMessage:
		return fmt.Sprintf("m %s %s", e.Sender, e.Data)
	case cpg.EventConfchg:
		return fmt.Sprintf("c %v %v %v", e.Members, e.Joined, e.Left)
	}
	return ""
}

// waitMembers reads g until a confchg with n members and returns what it read.
func waitMembers(t testing.TB, ctx context.Context, g *cpg.Group, n int) []cpg.Event {
	t.Helper()
	var evs []cpg.Event
	for {
		ev, err := g.Next(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for %d members: %v (read %v)", g.Self(), n, err, evs)
		}
		evs = append(evs, ev)
		if ev.Kind == cpg.EventConfchg && len(ev.Members) == n {
			return evs
		}
	}
}

// synchrony is the virtual synchrony scenario: a member on each node of
// dialers joins group, all send perMsgs numbered messages concurrently, and
// disrupt (a kill or partition of victim) happens mid-stream. Every
// survivor must deliver the same sequence of messages and confchgs, with
// the victim's departure (reason want) at the same position, no victim
// message after it, and every survivor's messages complete and in order.
// The victim's stream must be a prefix of the survivors' up to its end.
func synchrony(t *testing.T, dialers map[uint32]transport.Dialer, victim uint32, want cpg.Reason, perNode int, disrupt func()) {
	ctx := ctxT(t, 60*time.Second)
	group := fmt.Sprintf("vs-%d", time.Now().UnixNano()%100000)
	ids := slices.Sorted(func(yield func(uint32) bool) {
		for id := range dialers {
			if !yield(id) {
				return
			}
		}
	})
	groups := map[uint32]*cpg.Group{}
	for _, id := range ids {
		c := dialT(t, dialers[id])
		g, err := c.Join(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		groups[id] = g
		waitMembers(t, ctx, g, len(groups))
	}
	for _, id := range ids[:len(ids)-1] { // catch up on the later joins
		waitMembers(t, ctx, groups[id], len(ids))
	}

	var wg sync.WaitGroup
	streams := make(map[uint32][]string)
	var smu sync.Mutex
	survivors := 0
	for _, id := range ids {
		if id != victim {
			survivors++
		}
	}
	// Readers: survivors read until they have every survivor's messages and
	// the victim's departure; the victim reads until its stream ends.
	for _, id := range ids {
		g := groups[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq []string
			got := map[uint32]int{}
			left := false
			for {
				ev, err := g.Next(ctx)
				if err != nil {
					if id != victim {
						t.Errorf("node %d: %v after %d events", id, err, len(seq))
					}
					break
				}
				if id == victim && ev.Kind == cpg.EventConfchg && len(ev.Left) > 0 {
					break // cut off: the others left its view
				}
				if k := key(ev); k != "" {
					seq = append(seq, k)
				}
				if ev.Kind == cpg.EventMessage && ev.Sender.NodeID != victim {
					got[ev.Sender.NodeID]++
				}
				if ev.Kind == cpg.EventConfchg && slices.ContainsFunc(ev.Left, func(m cpg.Member) bool { return m.NodeID == victim }) {
					left = true
				}
				if id != victim && left && len(got) == survivors && !slices.ContainsFunc(ids, func(s uint32) bool {
					return s != victim && got[s] < perNode
				}) {
					break
				}
			}
			smu.Lock()
			streams[id] = seq
			smu.Unlock()
		}()
	}
	// Senders.
	for _, id := range ids {
		g := groups[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perNode {
				if id == victim && i == perNode/2 {
					disrupt()
				}
				if err := g.Send(ctx, fmt.Appendf(nil, "%d:%d", id, i), cpg.Agreed); err != nil {
					if id != victim {
						t.Errorf("node %d send %d: %v", id, i, err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	ref := streams[ids[0]]
	for _, id := range ids {
		s := streams[id]
		if id == victim {
			if len(s) > len(ref) || !slices.Equal(s, ref[:len(s)]) {
				t.Logf("victim:\n%s\nsurvivor:\n%s", strings.Join(s, "\n"), strings.Join(ref, "\n"))
				t.Errorf("node %d (victim): its stream of %d events is not a prefix of the survivors'", id, len(s))
			}
			continue
		}
		if !slices.Equal(s, ref) {
			t.Errorf("node %d delivered another sequence than node %d:\n%s\nvs\n%s", id, ids[0], strings.Join(s, "\n"), strings.Join(ref, "\n"))
		}
	}
	// The departure, once, with the wanted reason; no victim message after it.
	pos := -1
	for i, k := range ref {
		if strings.HasPrefix(k, "c ") && strings.Contains(k, fmt.Sprintf("%d/", victim)) && strings.Contains(k, "("+want.String()+")") {
			pos = i
		}
	}
	if pos < 0 {
		t.Fatalf("no confchg with node %d leaving (%s) in %v", victim, want, ref)
	}
	for _, k := range ref[pos+1:] {
		if strings.HasPrefix(k, fmt.Sprintf("m %d/", victim)) {
			t.Errorf("victim message %q after its departure", k)
		}
	}
	// Each sender's messages complete and in order.
	next := map[string]int{}
	for _, k := range ref {
		if !strings.HasPrefix(k, "m ") {
			continue
		}
		f := strings.Fields(k)
		var node, n int
		fmt.Sscanf(f[2], "%d:%d", &node, &n)
		if n != next[f[1]] {
			t.Errorf("%s: message %d, want %d", f[1], n, next[f[1]])
		}
		next[f[1]] = n + 1
	}
	t.Logf("%d events, victim's departure at %d; victim saw %d", len(ref), pos, len(streams[victim]))
	for _, g := range groups {
		g.Close()
	}
}
