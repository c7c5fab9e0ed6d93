package cpg_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/transport"
)

var fast = client.WithBackoff(corosync.Backoff{Initial: 2 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2})

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t testing.TB, d transport.Dialer, opts ...client.Option) *cpg.Client {
	t.Helper()
	c, err := cpg.Dial(ctxT(t, 10*time.Second), append([]client.Option{client.WithDialer(d), fast}, opts...)...)
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
	case corosync.EventMessage:
		return fmt.Sprintf("m %s %s", e.Sender, e.Data)
	case corosync.EventConfchg:
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
		if ev.Kind == corosync.EventConfchg && len(ev.Members) == n {
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
	// Readers: survivors read until every survivor's "end" message (sent
	// once it saw the victim depart); the victim reads until its stream
	// ends or the others leave its view.
	departed := map[uint32]chan struct{}{}
	for _, id := range ids {
		departed[id] = make(chan struct{})
	}
	for _, id := range ids {
		g := groups[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq []string
			ends := 0
			left := false
			for {
				ev, err := g.Next(ctx)
				if err != nil {
					if id != victim {
						t.Errorf("node %d: %v after %d events", id, err, len(seq))
					}
					break
				}
				if id == victim && ev.Kind == corosync.EventConfchg && len(ev.Left) > 0 {
					break // cut off: the others left its view
				}
				if k := key(ev); k != "" {
					seq = append(seq, k)
				}
				if ev.Kind == corosync.EventMessage && strings.HasSuffix(string(ev.Data), ":end") {
					ends++
				}
				if !left && ev.Kind == corosync.EventConfchg && slices.ContainsFunc(ev.Left, func(m cpg.Member) bool { return m.NodeID == victim }) {
					left = true
					close(departed[id])
				}
				if id != victim && ends == survivors {
					break
				}
			}
			smu.Lock()
			streams[id] = seq
			smu.Unlock()
		}()
	}
	// Senders: the victim disrupts half-way through its perNode messages;
	// the survivors send until they see it depart, then "end".
	for _, id := range ids {
		g := groups[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if id == victim && i == perNode/2 {
					disrupt()
				}
				msg := fmt.Appendf(nil, "%d:%d", id, i)
				if id == victim && i == perNode {
					return
				}
				if id != victim {
					select {
					case <-departed[id]:
						msg = fmt.Appendf(nil, "%d:end", id)
					default:
						if i >= perNode {
							time.Sleep(time.Millisecond) // pace while waiting for the departure
						}
					}
				}
				if err := g.Send(ctx, msg, cpg.Agreed); err != nil {
					if id != victim {
						t.Errorf("node %d send %d: %v", id, i, err)
					}
					return
				}
				if bytes.HasSuffix(msg, []byte(":end")) {
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
			// Up to its cut the victim saw what the survivors saw. It may
			// have delivered a last few of its own messages that no
			// survivor ever received: totem delivers a message to its
			// sender in agreed order as soon as it is sent, and the packet
			// may not have reached anyone before the kill or partition.
			k := 0
			for k < len(s) && k < len(ref) && s[k] == ref[k] {
				k++
			}
			own := fmt.Sprintf("m %d/", victim)
			for _, e := range s[k:] {
				if !strings.HasPrefix(e, own) {
					t.Logf("victim:\n%s\nsurvivor:\n%s", strings.Join(s, "\n"), strings.Join(ref, "\n"))
					t.Errorf("node %d (victim): after the %d events it shares with the survivors it delivered %q, not one of its own messages", id, k, e)
					break
				}
			}
			if k < len(s) {
				t.Logf("node %d (victim) delivered %d own messages the survivors never received", id, len(s)-k)
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
		if strings.HasSuffix(f[2], ":end") {
			continue
		}
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

// rejoined reads a WithRejoin group through a daemon restart.
func rejoined(t *testing.T, ctx context.Context, g *cpg.Group) {
	t.Helper()
	var kinds []corosync.EventKind
	for {
		ev, err := g.Next(ctx)
		if err != nil {
			t.Fatalf("rejoining group: %v after %v", err, kinds)
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == corosync.EventDisconnected && ev.Err == nil {
			t.Error("EventDisconnected without Err")
		}
		if ev.Kind == corosync.EventConfchg && slices.Contains(kinds, corosync.EventReconnected) {
			if !slices.Contains(ev.Members, g.Self()) {
				t.Errorf("confchg after rejoin without self: %v", ev)
			}
			break
		}
	}
	i, j := slices.Index(kinds, corosync.EventDisconnected), slices.Index(kinds, corosync.EventReconnected)
	if i < 0 || j < i {
		t.Errorf("events %v: want disconnected, rejoined, confchg", kinds)
	}
}

// groupOps checks join, the daemon's codes, queries, large messages, leave
// and an immediate rejoin, and the stream's end after Leave.
func groupOps(t *testing.T, dialers map[uint32]transport.Dialer) {
	ctx := ctxT(t, 60*time.Second)
	c1, c2 := dialT(t, dialers[1]), dialT(t, dialers[2])
	id, err := c1.LocalNodeID(ctx)
	if err != nil || id != 1 {
		t.Fatalf("LocalNodeID = %d, %v", id, err)
	}
	if _, err := c1.Join(ctx, string(bytes.Repeat([]byte("x"), 129))); !errors.Is(err, corosync.ErrNameTooLong) {
		t.Errorf("Join with a 129-byte name: %v, want NAME_TOO_LONG", err)
	}
	a, err := c1.Join(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	first := waitMembers(t, ctx, a, 1)
	if ev := first[0]; ev.Kind != corosync.EventConfchg || !slices.Equal(ev.Joined, []cpg.Member{{NodeID: 1, PID: a.PID(), Reason: cpg.ReasonJoin}}) {
		t.Errorf("first event %v, want own join", ev)
	}
	if ev, err := a.Next(ctx); err != nil || ev.Kind != corosync.EventTotem || len(ev.Nodes) != 3 {
		t.Errorf("second event %v %v, want the initial totem", ev, err)
	}
	if _, err := c1.Join(ctx, "ops"); !errors.Is(err, corosync.ErrExist) {
		t.Errorf("second Join of the same pid and group: %v, want EXIST", err)
	}
	b, err := c2.Join(ctx, "ops", cpg.WithPID(4242))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitMembers(t, ctx, a, 2)
	waitMembers(t, ctx, b, 2)
	want := []cpg.Member{{NodeID: 1, PID: a.PID()}, {NodeID: 2, PID: 4242}}
	for _, c := range []*cpg.Client{c1, c2} {
		if m, err := c.Members(ctx, "ops"); err != nil || !slices.Equal(m, want) {
			t.Errorf("Members = %v, %v; want %v", m, err, want)
		}
	}
	if m, err := a.Members(ctx); err != nil || !slices.Equal(m, want) {
		t.Errorf("Group.Members = %v, %v", m, err)
	}
	gs, err := c2.Groups(ctx)
	if err != nil || !slices.Contains(gs, cpg.GroupMember{Group: "ops", Member: cpg.Member{NodeID: 2, PID: 4242}}) {
		t.Errorf("Groups = %v, %v", gs, err)
	}
	names, err := c2.GroupNames(ctx)
	if err != nil || !slices.Contains(names, "ops") {
		t.Errorf("GroupNames = %v, %v", names, err)
	}

	// Messages: empty, the largest atomic, and fragmented ones.
	sizes := []int{0, 64, cpg.MaxAtomicMessage, cpg.MaxAtomicMessage + 1, 3<<20 + 5}
	for i, n := range sizes {
		msg := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := b.Send(ctx, msg, cpg.Agreed); err != nil {
			t.Fatalf("Send %d bytes: %v", n, err)
		}
	}
	for _, g := range []*cpg.Group{a, b} {
		for i, n := range sizes {
			ev, err := g.Next(ctx)
			for err == nil && ev.Kind == corosync.EventTotem {
				ev, err = g.Next(ctx)
			}
			if err != nil || ev.Kind != corosync.EventMessage || len(ev.Data) != n || (n > 0 && ev.Data[n-1] != byte(i+1)) || ev.Sender != (cpg.Member{NodeID: 2, PID: 4242}) {
				t.Fatalf("message %d (%d bytes): %v %v", i, n, ev, err)
			}
		}
	}

	// Leave: both see it; the leaver's stream ends with ErrLeft.
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	left := []cpg.Member{{NodeID: 1, PID: a.PID(), Reason: cpg.ReasonLeave}}
	for _, g := range []*cpg.Group{a, b} {
		ev, err := g.Next(ctx)
		if err != nil || ev.Kind != corosync.EventConfchg || !slices.Equal(ev.Left, left) {
			t.Errorf("after Leave: %v %v", ev, err)
		}
	}
	if _, err := a.Next(ctx); !errors.Is(err, cpg.ErrLeft) {
		t.Errorf("after the leave confchg: %v, want ErrLeft", err)
	}
	if err := a.Send(ctx, []byte("x"), cpg.Agreed); err == nil {
		t.Error("Send after Leave succeeded")
	}
	if err := a.Leave(ctx); err == nil {
		t.Error("second Leave succeeded")
	}
	// Rejoin at once, same pid: a new connection.
	a2, err := c1.Join(ctx, "ops")
	if err != nil {
		t.Fatalf("rejoin after Leave: %v", err)
	}
	defer a2.Close()
	waitMembers(t, ctx, a2, 2)
	ev, err := b.Next(ctx)
	if err != nil || ev.Kind != corosync.EventConfchg || len(ev.Joined) != 1 || ev.Joined[0].NodeID != 1 {
		t.Errorf("rejoin seen by the other member: %v %v", ev, err)
	}
	// Close without Leave: procdown.
	a2.Close()
	ev, err = b.Next(ctx)
	if err != nil || ev.Kind != corosync.EventConfchg || len(ev.Left) != 1 || ev.Left[0].Reason != cpg.ReasonProcDown {
		t.Errorf("Close seen by the other member: %v %v", ev, err)
	}
	if _, err := a2.Next(ctx); !errors.Is(err, corosync.ErrBadHandle) {
		t.Errorf("Next after Close: %v", err)
	}
}

// overflow: a Queue member that does not read fails with ErrOverflow after
// its queue, and the others see it go (procdown) after the messages it
// could take.
func overflow(t *testing.T, dialers map[uint32]transport.Dialer) {
	ctx := ctxT(t, 30*time.Second)
	c1, c2 := dialT(t, dialers[1]), dialT(t, dialers[2])
	slow, err := c1.Join(ctx, "overflow", cpg.Queue(8))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	s, err := c2.Join(ctx, "overflow")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitMembers(t, ctx, s, 2)
	for i := range 20 {
		if err := s.Send(ctx, fmt.Appendf(nil, "%d", i), cpg.Agreed); err != nil {
			t.Fatal(err)
		}
	}
	// The others see the slow member go (its reader has not read yet).
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == corosync.EventConfchg && len(ev.Left) == 1 {
			if ev.Left[0].Reason != cpg.ReasonProcDown {
				t.Errorf("overflowed member left with %v", ev.Left[0])
			}
			break
		}
	}
	var n int
	for {
		ev, err := slow.Next(ctx)
		if err != nil {
			if !errors.Is(err, cpg.ErrOverflow) || !errors.Is(err, corosync.ErrQueueFull) {
				t.Errorf("slow reader ended with %v, want ErrOverflow", err)
			}
			break
		}
		n++
		_ = ev
	}
	// Of 3 confchg/totem events and 20 messages, exactly the queue of 8.
	if n != 8 {
		t.Errorf("slow reader got %d events before ErrOverflow, want its queue of 8", n)
	}
}

// backlog: under the default delivery a member that does not read holds
// every event in its backlog (the pump keeps reading), other members are
// not held up, and the reader later gets all of them in order; Close drops
// what was held.
func backlog(t *testing.T, dialers map[uint32]transport.Dialer) {
	ctx := ctxT(t, 30*time.Second)
	const n = 1500
	c1, c2 := dialT(t, dialers[1]), dialT(t, dialers[2])
	slow, err := c1.Join(ctx, "backlog")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	s, err := c2.Join(ctx, "backlog")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitMembers(t, ctx, s, 2)
	for i := range n {
		if err := s.Send(ctx, fmt.Appendf(nil, "%d", i), cpg.Agreed); err != nil {
			t.Fatal(err)
		}
	}
	for got := 0; got < n; { // the sender's own stream is not held up
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == corosync.EventMessage {
			got++
		}
	}
	for slow.Backlog() < n && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if b := slow.Backlog(); b < n {
		t.Fatalf("backlog %d, want at least the %d messages", b, n)
	}
	for i := 0; i < n; {
		ev, err := slow.Next(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if ev.Kind != corosync.EventMessage {
			continue
		}
		if want := fmt.Sprint(i); string(ev.Data) != want {
			t.Fatalf("message %q at %d", ev.Data, i)
		}
		i++
	}
	if b := slow.Backlog(); b != 0 {
		t.Errorf("backlog %d after reading everything", b)
	}
	// Held events are dropped by Close.
	if err := s.Send(ctx, []byte("last"), cpg.Agreed); err != nil {
		t.Fatal(err)
	}
	for slow.Backlog() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	slow.Close()
	if b := slow.Backlog(); b != 0 {
		t.Errorf("backlog %d after Close", b)
	}
}
