package vqrules_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/vqrules"
	"github.com/corosync-go/corosync/votequorum"
)

// configOf is the vqrules configuration of a corotest cluster.
func configOf(n int, o corotest.Options) vqrules.Config {
	v := o.Votequorum
	c := vqrules.Config{
		ExpectedVotes: uint32(v.ExpectedVotes), TwoNode: o.TwoNode,
		WaitForAll: v.WaitForAll, NoWaitForAll: v.NoWaitForAll,
		LastManStanding:       v.LastManStanding,
		LastManStandingWindow: time.Duration(v.LastManStandingWindowMS) * time.Millisecond,
		AutoTieBreaker:        v.AutoTieBreaker, AutoTieBreakerNode: v.AutoTieBreakerNode,
		AllowDownscale: v.AllowDownscale,
	}
	for i := 1; i <= n; i++ {
		c.Nodes = append(c.Nodes, vqrules.NodeConfig{ID: uint32(i), Votes: uint32(v.Votes[uint32(i)])})
	}
	if d := v.Device; d != nil {
		c.Qdevice = &vqrules.QdeviceConfig{Votes: uint32(d.Votes), Timeout: time.Duration(d.TimeoutMS) * time.Millisecond}
	}
	return c
}

// resultOf converts a real getinfo answer.
func resultOf(i votequorum.Info) vqrules.Result {
	return vqrules.Result{
		NodeID: i.NodeID, State: vqrules.NodeState(i.State), Votes: i.NodeVotes, Expected: i.NodeExpectedVotes,
		HighestExpected: i.HighestExpected, TotalVotes: i.TotalVotes, Quorum: i.Quorum,
		Quorate: i.Quorate(), Flags: vqrules.Flags(i.Flags), QdeviceVotes: i.QdeviceVotes,
	}
}

// lockstep runs a real cluster and the model side by side.
type lockstep struct {
	t   *testing.T
	cl  *corotest.Cluster
	sim *vqrules.Cluster
}

func start(t *testing.T, n int, o corotest.Options) *lockstep {
	t.Helper()
	if o.TokenMS == 0 {
		o.TokenMS = 1000
	}
	sim, err := vqrules.NewCluster(configOf(n, o))
	if err != nil {
		t.Fatal(err)
	}
	cl := corotest.Start(t, n, o)
	if err := sim.Start(sim.IDs()...); err != nil {
		t.Fatal(err)
	}
	l := &lockstep{t: t, cl: cl, sim: sim}
	l.expect("started", 0)
	return l
}

// realInfo asks node on's daemon about node id.
func realInfo(ctx context.Context, n *corotest.Node, ids []uint32) (map[uint32]vqrules.Result, error) {
	c, err := votequorum.Dial(ctx, client.WithDialer(n.Dialer()), client.WithoutReconnect())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	m := map[uint32]vqrules.Result{}
	for _, id := range ids {
		i, err := c.Info(ctx, id)
		switch {
		case errors.Is(err, corosync.ErrNotExist):
			continue
		case err != nil:
			return nil, err
		}
		m[id] = resultOf(i)
	}
	return m, nil
}

// predicted is what the model says node on answers about every node.
func (l *lockstep) predicted(on uint32) map[uint32]vqrules.Result {
	m := map[uint32]vqrules.Result{}
	for _, id := range l.sim.IDs() {
		if r, err := l.sim.Info(on, id); err == nil {
			m[id] = r
		}
	}
	return m
}

// diffs lists where real and predicted differ.
func diffs(on uint32, real, pred map[uint32]vqrules.Result) []string {
	var d []string
	for _, id := range slices.Sorted(func(yield func(uint32) bool) {
		seen := map[uint32]bool{}
		for k := range real {
			seen[k] = true
		}
		for k := range pred {
			seen[k] = true
		}
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	}) {
		r, rok := real[id]
		p, pok := pred[id]
		if rok != pok || r != p {
			d = append(d, fmt.Sprintf("on node %d about node %d:\n  real      %v (known %v)\n  predicted %v (known %v)", on, id, r, rok, p, pok))
		}
	}
	return d
}

// expect waits until every running node's membership is the model's and
// then until every daemon answers getinfo, about every node, as the model
// predicts; within settle if settle > 0, else within 20 s.
func (l *lockstep) expect(step string, within time.Duration) {
	l.t.Helper()
	if within == 0 {
		within = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, id := range l.sim.IDs() {
		if l.sim.Running(id) {
			if err := l.cl.Node(id).WaitMembers(ctx, l.sim.Membership(id)...); err != nil {
				l.t.Fatalf("%s: %v", step, err)
			}
		}
	}
	deadline := time.Now().Add(within)
	for {
		var all []string
		for _, id := range l.sim.IDs() {
			if !l.sim.Running(id) {
				continue
			}
			real, err := realInfo(ctx, l.cl.Node(id), l.sim.IDs())
			if err != nil {
				all = append(all, fmt.Sprintf("node %d: %v", id, err))
				continue
			}
			all = append(all, diffs(id, real, l.predicted(id))...)
		}
		if len(all) == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: the daemons differ from the model:\n%s", step, strings.Join(all, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (l *lockstep) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

func (l *lockstep) kill(id uint32) {
	l.t.Helper()
	l.must(l.cl.Node(id).Kill())
	l.must(l.sim.Kill(id))
}

func (l *lockstep) stop(id uint32) {
	l.t.Helper()
	l.must(l.cl.Node(id).Stop())
	l.must(l.sim.Stop(id))
}

func (l *lockstep) startNode(id uint32) {
	l.t.Helper()
	l.must(l.cl.Node(id).Start())
	l.must(l.sim.Start(id))
}

func (l *lockstep) split(groups ...[]uint32) {
	l.t.Helper()
	l.must(l.cl.Split(groups...))
	l.sim.Partition(groups...)
}

func (l *lockstep) heal() {
	l.t.Helper()
	l.must(l.cl.Heal())
	l.sim.Heal()
}

func (l *lockstep) client(id uint32) *votequorum.Client {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, client.WithDialer(l.cl.Node(id).Dialer()))
	l.must(err)
	l.t.Cleanup(func() { c.Close() })
	return c
}

// sameErr checks that the daemon and the model accept or refuse alike.
func (l *lockstep) sameErr(what string, real, model error) {
	l.t.Helper()
	if (real == nil) != (model == nil) {
		l.t.Fatalf("%s: daemon %v, model %v", what, real, model)
	}
}

// TestDifferential3 plays node loss, return, partition, heal, setexpected
// and setvotes on 3 nodes.
func TestDifferential3(t *testing.T) {
	t.Parallel()
	l := start(t, 3, corotest.Options{})
	l.kill(3)
	l.expect("node 3 killed", 0)
	l.kill(2)
	l.expect("node 1 alone", 0)
	l.startNode(2)
	l.startNode(3)
	l.expect("nodes 2, 3 back", 0)
	l.split([]uint32{1}, []uint32{2, 3})
	l.expect("partition 1 | 2 3", 0)
	l.heal()
	l.expect("healed", 0)

	c := l.client(1)
	for _, n := range []uint32{2, 6, 4, 3, 5} {
		l.sameErr(fmt.Sprintf("setexpected %d", n), c.SetExpected(t.Context(), n), l.sim.SetExpected(1, n))
		l.expect(fmt.Sprintf("setexpected %d", n), 0)
	}
	for _, v := range []struct{ node, votes uint32 }{{2, 2}, {2, 1}, {3, 0}, {1, 4}} {
		l.sameErr(fmt.Sprintf("setvotes node %d %d", v.node, v.votes),
			c.SetVotes(t.Context(), votequorum.Node(v.node), v.votes), l.sim.SetVotes(1, v.node, v.votes))
		l.expect(fmt.Sprintf("setvotes node %d %d", v.node, v.votes), 0)
	}
	l.split([]uint32{1}, []uint32{2, 3})
	l.expect("partition with node 1 at 4 votes", 0)
	l.heal()
	l.expect("healed with node 1 at 4 votes", 0)
}

// TestDifferentialTwoNode plays two_node with and without wait_for_all.
func TestDifferentialTwoNode(t *testing.T) {
	t.Parallel()
	for _, wfa := range []bool{true, false} {
		t.Run(fmt.Sprintf("wait_for_all=%v", wfa), func(t *testing.T) {
			l := start(t, 2, corotest.Options{TwoNode: true, Votequorum: corotest.Votequorum{NoWaitForAll: !wfa}})
			l.split([]uint32{1}, []uint32{2})
			l.expect("split", 0)
			l.kill(2)
			l.startNode(2)
			l.expect("node 2 restarted alone", 0)
			l.heal()
			l.expect("healed", 0)
			l.kill(1)
			l.expect("node 1 killed", 0)
		})
	}
}

// TestDifferentialTieBreaker splits 4 nodes 2|2 with auto_tie_breaker.
func TestDifferentialTieBreaker(t *testing.T) {
	t.Parallel()
	for _, atb := range []string{"", "highest", "4 1"} {
		t.Run("atb="+atb, func(t *testing.T) {
			l := start(t, 4, corotest.Options{Votequorum: corotest.Votequorum{AutoTieBreaker: true, AutoTieBreakerNode: atb}})
			l.split([]uint32{1, 2}, []uint32{3, 4})
			l.expect("2|2", 0)
			l.heal()
			l.expect("healed", 0)
			l.split([]uint32{1, 3}, []uint32{2, 4})
			l.expect("1 3 | 2 4", 0)
		})
	}
}

// TestDifferentialLastManStanding shrinks 5 nodes to 2 with a short
// last_man_standing_window.
func TestDifferentialLastManStanding(t *testing.T) {
	t.Parallel()
	const window = 3000 * time.Millisecond
	l := start(t, 5, corotest.Options{Votequorum: corotest.Votequorum{LastManStanding: true, LastManStandingWindowMS: int(window / time.Millisecond)}})
	for _, id := range []uint32{5, 4, 3, 2} {
		l.kill(id)
		// expect returns soon after the ring forms, when the timer started.
		l.expect(fmt.Sprintf("node %d killed, inside the window", id), 100*time.Millisecond)
		l.sim.Advance(window)
		l.expect(fmt.Sprintf("node %d killed, after the window", id), 2*window)
	}
	// One at a time: nodes joining in one ring or one after the other
	// end with different expected votes (both are what corosync does).
	l.startNode(2)
	l.expect("node 2 back", 0)
	l.startNode(3)
	l.expect("node 3 back", 0)
}

// TestDifferentialDownscale stops nodes gracefully with allow_downscale:
// each leaves with NODE_FLAGS_LEAVING.
func TestDifferentialDownscale(t *testing.T) {
	t.Parallel()
	l := start(t, 4, corotest.Options{Votequorum: corotest.Votequorum{AllowDownscale: true}})
	l.stop(4)
	l.expect("node 4 stopped", 0)
	l.stop(3)
	l.expect("node 3 stopped", 0)
	l.kill(2)
	l.expect("node 2 killed", 0)
}
