package mock_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

// The mock's votequorum decisions and event sequences equal real corosync
// 3.1.7's: the same scenarios are played on a real cluster and on the mock,
// and after every step getinfo of every node on every running node must be
// equal, and so must the events node 1's votequorum and quorum clients got.

// mockOptions is the mock configuration of a corotest cluster.
func mockOptions(o corotest.Options) []mock.Option {
	v := o.Votequorum
	var opts []mock.Option
	if v.ExpectedVotes > 0 {
		opts = append(opts, mock.WithExpectedVotes(uint32(v.ExpectedVotes)))
	}
	if o.TwoNode {
		opts = append(opts, mock.WithTwoNode())
	}
	if v.WaitForAll || v.NoWaitForAll {
		opts = append(opts, mock.WithWaitForAll(v.WaitForAll))
	}
	if v.LastManStanding {
		opts = append(opts, mock.WithLastManStanding(time.Duration(v.LastManStandingWindowMS)*time.Millisecond))
	}
	if v.AutoTieBreaker {
		opts = append(opts, mock.WithAutoTieBreaker(v.AutoTieBreakerNode))
	}
	if v.AllowDownscale {
		opts = append(opts, mock.WithAllowDownscale())
	}
	for id, votes := range v.Votes {
		opts = append(opts, mock.WithVotes(id, uint32(votes)))
	}
	if o.Daemon != nil && o.Daemon.Name == "main" {
		opts = append(opts, mock.WithDaemonVersion(corosync.VersionMain))
	}
	return opts
}

// observer is node 1's votequorum and quorum clients on one side.
type observer struct {
	vq   *votequorum.Client
	vqs  *dispatch.Subscription[votequorum.Event]
	q    *quorum.Client
	qs   *dispatch.Subscription[quorum.Event]
	dial func(id uint32) transport.Dialer

	vqLast, qLast lastState
}

func observe(t *testing.T, dial func(id uint32) transport.Dialer) *observer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := &observer{dial: dial}
	var err error
	if o.vq, err = votequorum.Dial(ctx, client.WithDialer(dial(1))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.vq.Close() })
	if o.vqs, err = o.vq.Subscribe(ctx, dispatch.Queue(1024)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.vqs.Close() })
	if o.q, err = quorum.Dial(ctx, client.WithDialer(dial(1))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.q.Close() })
	if o.qs, err = o.q.Subscribe(ctx, dispatch.Queue(1024)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.qs.Close() })
	return o
}

// events renders what the subscriptions delivered since the last call,
// with their state (ring ids without their sequence, which differs).
func (o *observer) events() (vq, q []string) {
	for _, ev := range o.vqs.Drain() {
		s := fmt.Sprintf("quorate=%v nodes=%v members=%v ring=%d expected=%d",
			ev.Quorate, ev.Nodes, ev.Members, ev.Ring.NodeID, ev.ExpectedVotes)
		if ev.QdeviceExtraInfo != nil || ev.Kind == corosync.EventQdeviceExtraInfo {
			s += " extra_info="
			for _, id := range slices.Sorted(maps.Keys(ev.QdeviceExtraInfo)) {
				s += fmt.Sprintf("%d:%q ", id, ev.QdeviceExtraInfo[id])
			}
			s += fmt.Sprintf("(node %d)", ev.NodeID)
		}
		vq = o.vqLast.add(vq, ev.Kind == corosync.EventNodelist || ev.Kind == corosync.EventQuorum, ev.Kind.String(), s)
	}
	for _, ev := range o.qs.Drain() {
		s := fmt.Sprintf("quorate=%v members=%v", ev.Quorate, ev.Members)
		if ev.Nodelist != nil {
			s += fmt.Sprintf(" nodelist=%v joined=%v left=%v", ev.Nodelist.Members, ev.Nodelist.Joined, ev.Nodelist.Left)
		}
		q = o.qLast.add(q, ev.Kind == corosync.EventNodelist || ev.Kind == corosync.EventQuorum, ev.Kind.String(), s)
	}
	return vq, q
}

// lastState drops ring events that change nothing: real corosync sometimes
// forms a second ring with the same members right after a heal (a
// nodelist and a quorum notification whose state equals the one before,
// but for the ring's sequence, which is not compared).
type lastState string

func (l *lastState) add(out []string, ring bool, kind, state string) []string {
	if ring && string(*l) == state {
		return out
	}
	*l = lastState(state)
	return append(out, kind+" "+state)
}

// infos is getinfo of every node 1..n (and 0) on node on, errors as codes.
func infos(ctx context.Context, d transport.Dialer, n int) (map[uint32]string, error) {
	c, err := votequorum.Dial(ctx, client.WithDialer(d), client.WithoutReconnect())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	m := map[uint32]string{}
	for id := uint32(0); id <= uint32(n)+1; id++ {
		i, err := c.Info(ctx, id)
		if err != nil {
			m[id] = fmt.Sprint(corosync.Code(err))
			continue
		}
		m[id] = i.String()
		if c.DaemonVersion() == corosync.VersionMain {
			ei, err := c.QdeviceExtraInfo(ctx, id)
			m[id] += fmt.Sprintf(" extra_info %q %v", ei, corosync.Code(err))
		}
	}
	return m, nil
}

// vqPair plays one scenario on a real cluster and on the mock.
type vqPair struct {
	t       *testing.T
	n       int
	real    *corotest.Cluster
	fake    *mock.Cluster
	running map[uint32]bool
	groups  [][]uint32 // nil: healed
	ro, fo  *observer
}

func newVQPair(t *testing.T, n int, o corotest.Options) *vqPair {
	t.Helper()
	if o.TokenMS == 0 {
		o.TokenMS = 1000
	}
	p := &vqPair{t: t, n: n, running: map[uint32]bool{}}
	p.fake = mock.NewCluster(n, mockOptions(o)...)
	p.real = corotest.Start(t, n, o)
	for i := 1; i <= n; i++ {
		p.running[uint32(i)] = true
	}
	p.ro = observe(t, func(id uint32) transport.Dialer { return p.real.Node(id).Dialer() })
	p.fo = observe(t, func(id uint32) transport.Dialer { return p.fake.Node(id) })
	p.check("started")
	return p
}

// membership is what node id's ring should be.
func (p *vqPair) membership(id uint32) []uint32 {
	var m []uint32
	group := func(x uint32) int {
		if p.groups == nil {
			return 0
		}
		for i, g := range p.groups {
			if slices.Contains(g, x) {
				return i + 1
			}
		}
		return -int(x)
	}
	for x := uint32(1); x <= uint32(p.n); x++ {
		if p.running[x] && group(x) == group(id) {
			m = append(m, x)
		}
	}
	return m
}

// check waits until the real daemons answer getinfo as the mock does on
// every running node, then compares node 1's events.
func (p *vqPair) check(step string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for id := uint32(1); id <= uint32(p.n); id++ {
		if p.running[id] {
			if err := p.real.Node(id).WaitMembers(ctx, p.membership(id)...); err != nil {
				p.t.Fatalf("%s: %v", step, err)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var diffs []string
		for id := uint32(1); id <= uint32(p.n); id++ {
			if !p.running[id] {
				continue
			}
			r, err := infos(ctx, p.real.Node(id).Dialer(), p.n)
			if err != nil {
				diffs = append(diffs, fmt.Sprintf("real node %d: %v", id, err))
				continue
			}
			f, err := infos(ctx, p.fake.Node(id), p.n)
			if err != nil {
				p.t.Fatalf("%s: mock node %d: %v", step, id, err)
			}
			for _, k := range slices.Sorted(maps.Keys(r)) {
				if r[k] != f[k] {
					diffs = append(diffs, fmt.Sprintf("on node %d about %d:\n  real %s\n  mock %s", id, k, r[k], f[k]))
				}
			}
		}
		if len(diffs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: getinfo differs:\n%s", step, strings.Join(diffs, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let the last notifications arrive
	rv, rq := p.ro.events()
	fv, fq := p.fo.events()
	if testing.Verbose() {
		p.t.Logf("%s: node 1 events:\n  %s\n  %s", step, strings.Join(rv, "\n  "), strings.Join(rq, "\n  "))
	}
	if !slices.Equal(rv, fv) {
		p.t.Errorf("%s: votequorum events on node 1 differ:\nreal:\n  %s\nmock:\n  %s", step, strings.Join(rv, "\n  "), strings.Join(fv, "\n  "))
	}
	if !slices.Equal(rq, fq) {
		p.t.Errorf("%s: quorum events on node 1 differ:\nreal:\n  %s\nmock:\n  %s", step, strings.Join(rq, "\n  "), strings.Join(fq, "\n  "))
	}
}

func (p *vqPair) must(err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
}

func (p *vqPair) kill(id uint32) {
	p.t.Helper()
	p.must(p.real.Node(id).Kill())
	p.fake.Kill(id)
	p.running[id] = false
	p.check(fmt.Sprintf("node %d killed", id))
}

func (p *vqPair) start(id uint32) {
	p.t.Helper()
	p.must(p.real.Node(id).Start())
	p.fake.Start(id)
	p.running[id] = true
	p.check(fmt.Sprintf("node %d started", id))
}

func (p *vqPair) split(groups ...[]uint32) {
	p.t.Helper()
	p.must(p.real.Split(groups...))
	p.fake.Partition(groups...)
	p.groups = groups
	p.check(fmt.Sprint("partition ", groups))
}

func (p *vqPair) heal() {
	p.t.Helper()
	p.must(p.real.Heal())
	p.fake.Heal()
	p.groups = nil
	p.check("healed")
}

// sameAnswer runs a request on node 1 of both and compares the codes.
func (p *vqPair) sameAnswer(what string, f func(c *votequorum.Client) error) {
	p.t.Helper()
	r, m := corosync.Code(f(p.ro.vq)), corosync.Code(f(p.fo.vq))
	if r != m {
		p.t.Fatalf("%s: real %v, mock %v", what, r, m)
	}
	p.check(what)
}

func TestVotequorumMockEqualsReal(t *testing.T) {
	corotest.Require(t)
	t.Run("main: quorum device extra info", func(t *testing.T) {
		t.Parallel()
		d, _ := corotest.LookupDaemon("main")
		p := newVQPair(t, 3, corotest.Options{Daemon: &d})
		p.sameAnswer("set extra info without a device", func(c *votequorum.Client) error { return c.SetQdeviceExtraInfo(t.Context(), []byte("x")) })
		p.sameAnswer("register", func(c *votequorum.Client) error { return c.QdeviceRegister(t.Context(), "dev") })
		for _, info := range [][]byte{[]byte("abc\x00"), nil, bytes.Repeat([]byte{7}, votequorum.MaxQdeviceExtraInfo), []byte("again")} {
			p.sameAnswer(fmt.Sprintf("set %d bytes", len(info)), func(c *votequorum.Client) error { return c.SetQdeviceExtraInfo(t.Context(), info) })
		}
		for _, id := range []uint32{0, 1, 2, 99} {
			p.sameAnswer(fmt.Sprintf("get node %d", id), func(c *votequorum.Client) error { _, err := c.QdeviceExtraInfo(t.Context(), id); return err })
		}
		p.kill(3)
		p.start(3)
		p.sameAnswer("unregister", func(c *votequorum.Client) error { return c.QdeviceUnregister(t.Context(), "dev") })
	})
	t.Run("3 nodes", func(t *testing.T) {
		t.Parallel()
		p := newVQPair(t, 3, corotest.Options{})
		p.kill(3)
		p.kill(2)
		p.start(2)
		p.start(3)
		p.split([]uint32{1}, []uint32{2, 3})
		p.heal()
		for _, n := range []uint32{2, 6, 4, 3} {
			p.sameAnswer(fmt.Sprint("setexpected ", n), func(c *votequorum.Client) error { return c.SetExpected(t.Context(), n) })
		}
		for _, v := range []struct{ node, votes uint32 }{{2, 2}, {9, 1}, {3, 0}, {2, 1}} {
			p.sameAnswer(fmt.Sprintf("setvotes node %d %d", v.node, v.votes), func(c *votequorum.Client) error {
				return c.SetVotes(t.Context(), votequorum.Node(v.node), v.votes)
			})
		}
		p.sameAnswer("setvotes quorum device 2", func(c *votequorum.Client) error {
			return c.SetVotes(t.Context(), votequorum.QuorumDevice(), 2)
		})
		p.split([]uint32{1, 2}, []uint32{3})
		p.kill(2)
		// quorum.expected_votes changed at runtime: no checks, quorum falls.
		for _, n := range []uint32{1, 9} {
			for _, id := range []uint32{1, 3} { // one node per partition, as the mock does
				p.must(p.real.Node(id).SetExpectedVotes(t.Context(), int(n)))
			}
			p.fake.SetExpectedVotes(n)
			p.check(fmt.Sprint("quorum.expected_votes ", n))
		}
	})
	for _, wfa := range []bool{true, false} {
		t.Run(fmt.Sprintf("two_node wait_for_all=%v", wfa), func(t *testing.T) {
			t.Parallel()
			p := newVQPair(t, 2, corotest.Options{TwoNode: true, Votequorum: corotest.Votequorum{NoWaitForAll: !wfa}})
			p.split([]uint32{1}, []uint32{2})
			p.heal()
			p.kill(2)
			p.split([]uint32{1}, []uint32{2})
			p.start(2)
			p.heal()
		})
	}
	t.Run("auto_tie_breaker 2|2", func(t *testing.T) {
		t.Parallel()
		p := newVQPair(t, 4, corotest.Options{Votequorum: corotest.Votequorum{AutoTieBreaker: true}})
		p.split([]uint32{1, 2}, []uint32{3, 4})
		p.heal()
		p.split([]uint32{1, 3}, []uint32{2, 4})
		p.heal()
	})
	t.Run("last_man_standing", func(t *testing.T) {
		t.Parallel()
		const window = 2000 * time.Millisecond
		p := newVQPair(t, 4, corotest.Options{Votequorum: corotest.Votequorum{LastManStanding: true, LastManStandingWindowMS: int(window / time.Millisecond)}})
		for _, id := range []uint32{4, 3} {
			p.kill(id) // checked inside the window: the check takes well under 2 s
			time.Sleep(window)
			p.fake.Advance(window)
			p.check(fmt.Sprintf("node %d killed, after the window", id))
		}
		p.start(3)
	})
}
