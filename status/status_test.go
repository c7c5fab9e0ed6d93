package status

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries fn until it returns nil, or fails the test.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err = fn(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func node(t *testing.T, s Snapshot, id uint32) Node {
	t.Helper()
	n, ok := s.Node(id)
	if !ok {
		t.Fatalf("node %d not in the snapshot: %+v", id, s.Nodes)
	}
	return n
}

// A complete snapshot of a healthy mock cluster with a voting device: every
// field as the mock's cluster model has it.
func TestGetMock(t *testing.T) {
	cl := mock.NewCluster(3, mock.WithQdevice(1, 0))
	if err := cl.QdeviceVote(1, true); err != nil {
		t.Fatal(err)
	}
	s, err := Get(ctxT(t), client.WithDialer(cl.Node(2)), WithStats())
	if err != nil {
		t.Fatalf("%v (missing %v)", err, s.Missing)
	}
	if !s.Complete() || s.ClusterName != mock.MockClusterName || s.Transport != "knet" || !s.HasVotequorum() ||
		s.LocalNodeID != 2 || !s.Quorate || !slices.Equal(s.Members, []uint32{1, 2, 3}) || s.Links != LinksFromNodeStatus {
		t.Fatalf("snapshot %+v", s)
	}
	rep, seq := cl.Node(2).Ring()
	if s.Ring != (corosync.RingID{NodeID: rep, Seq: seq}) || s.RingIDText() != "1.4" {
		t.Fatalf("ring %v %q, mock %d.%d", s.Ring, s.RingIDText(), rep, seq)
	}
	// Node 2 has no device: its total leaves the device's vote out.
	if v := s.Votes; v == nil || v.ExpectedVotes != 4 || v.TotalVotes != 3 || v.Quorum != 3 ||
		!slices.Equal(v.FlagNames(), []string{"Quorate"}) {
		t.Fatalf("votes %+v %v", s.Votes, s.Votes.FlagNames())
	}
	// The device is registered on node 1, not on node 2.
	if q := s.Qdevice; q == nil || q.Name != mock.QdeviceName || q.Votes != 1 || q.Registered {
		t.Fatalf("qdevice %+v", s.Qdevice)
	}
	if got := node(t, s, 1).QdeviceState(); got != "A,V,NMW" {
		t.Fatalf("node 1's device: %q", got)
	}
	for _, id := range []uint32{1, 2, 3} {
		n := node(t, s, id)
		addr := cl.Node(id).Addr().String()
		if n.Name != "node"+string(rune('0'+id)) || n.NameFrom != NameNodelist || !slices.Equal(n.Addrs, []string{addr}) ||
			!n.Configured || !n.Member || n.Local != (id == 2) || !n.Seen || n.State != votequorum.NodeStateMember ||
			n.Votes != 1 || !n.HasLinks || !n.Reachable || len(n.Links) != 1 {
			t.Fatalf("node %d: %+v", id, n)
		}
		l := n.Links[0]
		if l.Number != 0 || !l.Enabled || !l.Connected || l.Dst != addr {
			t.Fatalf("node %d link: %+v", id, l)
		}
	}
	if s.Stats == nil || s.Stats.IPC == nil || s.Stats.IPC.Active == 0 || len(s.Stats.Links) != 2 {
		t.Fatalf("stats %+v", s.Stats)
	}
	for _, ls := range s.Stats.Links {
		if ls.NodeID == 2 || ls.Link != 0 {
			t.Fatalf("statistics of %+v", ls)
		}
	}
}

// A node killed, this node partitioned off, the heal: each snapshot
// follows the mock's model.
func TestSnapshotFollowsCluster(t *testing.T) {
	cl := mock.NewCluster(3)
	ctx := ctxT(t)
	c, err := Dial(ctx, client.WithDialer(cl.Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl.Kill(3)
	eventually(t, "node 3 killed", func() error {
		s, err := c.Snapshot(ctx)
		if err != nil {
			return err
		}
		n := node(t, s, 3)
		if !s.Quorate || !slices.Equal(s.Members, []uint32{1, 2}) || n.Member || n.State != votequorum.NodeStateDead ||
			n.Reachable || n.Links[0].Connected || !n.Configured {
			return errors.New("not yet")
		}
		if s.Changes.Membership != 1 || s.Changes.Quorum != 0 || s.Changes.Last.IsZero() {
			return errors.New("changes not counted")
		}
		return nil
	})
	cl.Start(3)
	cl.Partition([]uint32{1}, []uint32{2, 3})
	eventually(t, "node 1 alone", func() error {
		s, err := c.Snapshot(ctx)
		if err != nil {
			return err
		}
		if s.Quorate || !slices.Equal(s.Members, []uint32{1}) || node(t, s, 2).Member || node(t, s, 2).Reachable {
			return errors.New("not yet")
		}
		if s.Changes.Quorum != 1 {
			return errors.New("quorum change not counted")
		}
		return nil
	})
	cl.Heal()
	eventually(t, "healed", func() error {
		s, err := c.Snapshot(ctx)
		if err != nil {
			return err
		}
		for _, n := range s.Nodes {
			if !n.Member || !n.Reachable || !n.Links[0].Connected {
				return errors.New("not yet")
			}
		}
		if !s.Quorate || s.Changes.Quorum != 2 {
			return errors.New("not quorate again")
		}
		return nil
	})
}

// refusing is a dialer that refuses the services named in refuse (the
// n-th dial of a service when the value is n > 0; every dial when 0) with
// code.
type refusing struct {
	d      transport.Dialer
	code   corosync.Error
	mu     sync.Mutex
	refuse map[string]int
	dials  map[string]int
}

func (r *refusing) Dial(ctx context.Context, service string) (transport.Conn, error) {
	r.mu.Lock()
	r.dials[service]++
	n, ok := r.refuse[service]
	refused := ok && (n == 0 || n == r.dials[service])
	r.mu.Unlock()
	if refused {
		return nil, corosync.NewError("dial "+service, r.code, errors.New("refused by the test"))
	}
	return r.d.Dial(ctx, service)
}

// One service refused: the snapshot has everything else, says which part
// is missing and why (errors.Is with the root code), and Get returns a
// *PartialError rather than nothing.
func TestPartialCfgRefused(t *testing.T) {
	cl := mock.NewCluster(3)
	d := &refusing{d: cl.Node(1), code: corosync.ErrAccess, refuse: map[string]int{cfg.ServiceName: 0}, dials: map[string]int{}}
	s, err := Get(ctxT(t), client.WithDialer(d))
	var partial *PartialError
	if !errors.As(err, &partial) || len(partial.Missing) != 1 || partial.Missing[0].Part != PartCfg {
		t.Fatalf("error %v", err)
	}
	if !errors.Is(err, corosync.ErrAccess) || !errors.Is(s.Err(PartCfg), corosync.ErrAccess) || !errors.Is(err, ErrNotConnected) {
		t.Fatalf("error %v does not carry ErrAccess and ErrNotConnected", err)
	}
	var pe *PartError
	if !errors.As(err, &pe) || pe.Part != PartCfg || s.Connected(PartCfg) || !s.Connected(PartVotequorum) {
		t.Fatalf("part error %v", pe)
	}
	// Everything else is there; the local node id comes from votequorum.
	if !s.Quorate || s.LocalNodeID != 1 || s.Votes == nil || s.Votes.Quorum != 2 || len(s.Nodes) != 3 ||
		s.ClusterName != mock.MockClusterName || s.Links != LinksNone || !node(t, s, 1).Local || node(t, s, 2).HasLinks {
		t.Fatalf("snapshot %+v", s)
	}
	if s.Err(PartQuorum) != nil || s.Err(PartVotequorum) != nil || s.Err(PartCmap) != nil {
		t.Fatalf("other parts missing: %v", s.Missing)
	}
}

// statsRefusing refuses the first selection of the stats map on a cmap
// connection, as a daemon would refuse a request.
type statsRefusing struct {
	d       transport.Dialer
	mu      sync.Mutex
	refused bool
}

func (r *statsRefusing) Dial(ctx context.Context, service string) (transport.Conn, error) {
	c, err := r.d.Dial(ctx, service)
	if err != nil || service != "cmap" {
		return c, err
	}
	return &statsConn{Conn: c, r: r}, nil
}

type statsConn struct {
	transport.Conn
	r *statsRefusing
}

func (c *statsConn) Request(ctx context.Context, req, resp []byte, opts ...transport.RequestOption) ([]byte, error) {
	sel, _ := cmapwire.AppendSetCurrentMap(nil, cmapwire.MapStats)
	if bytes.Equal(req, sel) {
		c.r.mu.Lock()
		first := !c.r.refused
		c.r.refused = true
		c.r.mu.Unlock()
		if first {
			return nil, corosync.NewError("select the stats map", corosync.ErrAccess, errors.New("refused by the test"))
		}
	}
	return c.Conn.Request(ctx, req, resp, opts...)
}

// The stats map refused: only the statistics are missing. A Client dials
// it again in the background and the next snapshots are complete.
func TestPartialStatsThenRedial(t *testing.T) {
	cl := mock.NewCluster(3)
	d := &statsRefusing{d: cl.Node(1)}
	ctx := ctxT(t)
	c, err := Dial(ctx, client.WithDialer(d), WithStats())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Snapshot(ctx)
	if !errors.Is(err, corosync.ErrAccess) || len(s.Missing) != 1 || s.Missing[0].Part != PartStats || s.Stats != nil {
		t.Fatalf("error %v, missing %v", err, s.Missing)
	}
	if s.Votes == nil || len(s.Nodes) != 3 || !node(t, s, 2).Reachable {
		t.Fatalf("snapshot %+v", s)
	}
	eventually(t, "stats map dialed again", func() error {
		s, err := c.Snapshot(ctx)
		if err == nil && (s.Stats == nil || len(s.Stats.Links) != 2) {
			return errors.New("no statistics")
		}
		return err
	})
}

// No daemon at all: an error, not a snapshot.
func TestGetNoDaemon(t *testing.T) {
	cl := mock.NewCluster(1)
	cl.Stop(1)
	_, err := Get(ctxT(t), client.WithDialer(cl.Node(1)))
	var partial *PartialError
	if err == nil || errors.As(err, &partial) || !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("error %v", err)
	}
}

// A daemon restarted under a Client: its parts are missing while it is
// away (not connected), back after.
func TestClientDaemonAwayAndBack(t *testing.T) {
	cl := mock.NewCluster(3)
	ctx := ctxT(t)
	c, err := Dial(ctx, client.WithDialer(cl.Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl.Stop(1)
	eventually(t, "daemon away", func() error {
		s, _ := c.Snapshot(ctx)
		for _, p := range []Part{PartQuorum, PartVotequorum, PartCfg} {
			if s.Connected(p) {
				return errors.New(string(p) + " still connected")
			}
		}
		return nil
	})
	cl.Start(1)
	eventually(t, "daemon back", func() error {
		_, err := c.Snapshot(ctx)
		return err
	})
}

// On corosync main the snapshot says so (votequorum's probe tells it from
// 3.1.6), and a node's quorum device extra info is read as main's
// corosync-quorumtool -s reads it.
func TestMainDaemon(t *testing.T) {
	cl := mock.NewCluster(3, mock.WithDaemonVersion(corosync.VersionMain))
	dev, err := votequorum.Dial(ctxT(t), client.WithDialer(cl.Node(2)))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if err := dev.QdeviceRegister(ctxT(t), "dev"); err != nil {
		t.Fatal(err)
	}
	if err := dev.SetQdeviceExtraInfo(ctxT(t), []byte("hi\x00")); err != nil {
		t.Fatal(err)
	}
	s, err := Get(ctxT(t), client.WithDialer(cl.Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := s.Node(2)
	n1, _ := s.Node(1)
	if s.DaemonVersion != corosync.VersionMain || string(n2.QdeviceExtraInfo) != "hi\x00" || n1.QdeviceExtraInfo != nil {
		t.Fatalf("on main: daemon %v, node 2's extra info %q, node 1's %q", s.DaemonVersion, n2.QdeviceExtraInfo, n1.QdeviceExtraInfo)
	}
}

// Against the release lines the mock can pose as: 3.0 has no node status
// (links from the ring status), 2.4 prints ring ids in decimal and names
// nodes by their ring0_addr.
func TestOlderDaemons(t *testing.T) {
	for _, v := range []corosync.Version{corosync.Version3_0, corosync.Version2_4} {
		t.Run(v.String(), func(t *testing.T) {
			cl := mock.NewCluster(3, mock.WithDaemonVersion(v))
			s, err := Get(ctxT(t), client.WithDialer(cl.Node(1)), WithStats())
			if err != nil {
				t.Fatalf("%v", err)
			}
			if s.Links != LinksFromRingStatus || s.DaemonVersion != v {
				t.Fatalf("links from %v on %v", s.Links, s.DaemonVersion)
			}
			want := map[bool]string{true: "1/4", false: "1.4"}[v == corosync.Version2_4]
			if s.RingIDText() != want {
				t.Fatalf("ring id %q, want %q", s.RingIDText(), want)
			}
			for _, id := range []uint32{1, 2, 3} {
				n := node(t, s, id)
				name := map[bool]string{true: cl.Node(id).Addr().String(), false: "node" + string(rune('0'+id))}[v == corosync.Version2_4]
				if n.Name != name || len(n.Links) != 1 || !n.Links[0].Connected || n.Reachable != (id == 1) {
					t.Fatalf("node %d: %+v", id, n)
				}
			}
			// 2.4 has no stats map: the IPC counts come from the main map.
			if s.Stats == nil || s.Stats.IPC == nil || (len(s.Stats.Links) == 0) != (v == corosync.Version2_4) {
				t.Fatalf("stats %+v", s.Stats)
			}
		})
	}
}

// corosync 2.x, two redundant rings with ring 0 marked faulty (what its
// corosync-cfgtool -s prints as RING ID 0 and 1).
func TestRingStatus2x(t *testing.T) {
	r := &reader{nodes: map[uint32]*Node{}}
	err := r.applyRings([]cfg.RingInterface{
		{Name: "10.0.0.1", Status: "Marking ringid 0 interface 10.0.0.1 FAULTY"},
		{Name: "172.16.0.1", Status: "ring 1 active with no faults"},
	})
	want := []Ring{
		{Number: 0, Address: "10.0.0.1", Status: "Marking ringid 0 interface 10.0.0.1 FAULTY", Faulty: true},
		{Number: 1, Address: "172.16.0.1", Status: "ring 1 active with no faults"},
	}
	if err != nil || r.s.Links != LinksFromRings || !slices.Equal(r.s.Rings, want) || len(r.nodes) != 0 {
		t.Fatalf("%v %v %+v", err, r.s.Links, r.s.Rings)
	}
}

// corosync 3.0, knet: each link's status has one character per host in
// node id order of the nodelist; 'd' is a host without that link, '?' one
// knet cannot tell about. The exporter's TestRingMetricsKnet30 renders
// this very result.
func TestRingStatusKnet30(t *testing.T) {
	conf := &cmapPart{nodes: map[uint32]confNode{
		1: {name: "a", addrs: []string{"192.0.2.1", "198.51.100.1"}},
		2: {name: "b", addrs: []string{"192.0.2.2", "198.51.100.2"}},
		4: {name: "c", addrs: []string{"192.0.2.4"}},
	}}
	r := &reader{nodes: map[uint32]*Node{}, conf: conf}
	err := r.applyRings([]cfg.RingInterface{{Name: "0 192.0.2.1", Status: "n31"}, {Name: "1 198.51.100.1", Status: "n?d"}})
	if err != nil || r.s.Links != LinksFromRingStatus {
		t.Fatal(err, r.s.Links)
	}
	want := map[uint32][]Link{
		1: {{Number: 0, Enabled: true, Connected: true, Src: "192.0.2.1", Dst: "192.0.2.1"},
			{Number: 1, Enabled: true, Connected: true, Src: "198.51.100.1", Dst: "198.51.100.1"}},
		2: {{Number: 0, Enabled: true, Connected: true, Src: "192.0.2.1", Dst: "192.0.2.2"},
			{Number: 1, Unknown: true, Src: "198.51.100.1", Dst: "198.51.100.2"}},
		4: {{Number: 0, Enabled: true, Src: "192.0.2.1", Dst: "192.0.2.4"}},
	}
	for id, links := range want {
		if n := r.nodes[id]; n == nil || !n.HasLinks || !slices.Equal(n.Links, links) {
			t.Fatalf("node %d: %+v, want %+v", id, n, links)
		}
	}
	// More hosts than the nodelist has: the mapping is unknown.
	r = &reader{nodes: map[uint32]*Node{}, conf: conf}
	if err := r.applyRings([]cfg.RingInterface{{Name: "0 192.0.2.1", Status: "n333"}}); !errors.Is(err, corosync.ErrMessageError) {
		t.Fatalf("status of 4 hosts with 3 nodes: %v", err)
	}
}

func TestRingIDText(t *testing.T) {
	for _, c := range []struct {
		v        corosync.Version
		provider string
		rep      uint32
		seq      uint64
		want     string
	}{
		{corosync.Version2_4, votequorumProvider, 1, 12, "1/12"}, {corosync.Version3_1_6, votequorumProvider, 1, 12, "1.c"},
		{corosync.Version2_4, votequorumProvider, 3232235777, 8, "-1062731519/8"}, // 2.x prints the node id with %d
		{corosync.Version3_0, votequorumProvider, 3232235777, 8, "c0a80101.8"},
		{corosync.Version2_4, "", 1, 12, "12"}, {corosync.Version3_1_6, "", 1, 12, "c"},
	} {
		s := Snapshot{DaemonVersion: c.v, Provider: c.provider, Ring: corosync.RingID{NodeID: c.rep, Seq: c.seq}}
		if got := s.RingIDText(); got != c.want {
			t.Errorf("%v %q %d.%d: %q, want %q", c.v, c.provider, c.rep, c.seq, got, c.want)
		}
	}
}

// The watch: the current state first, then a snapshot on each change (a
// kill, a partition, the heal); statistics alone are no change.
func TestSubscribe(t *testing.T) {
	cl := mock.NewCluster(3)
	ctx := ctxT(t)
	c, err := Dial(ctx, client.WithDialer(cl.Node(1)), WithPollInterval(20*time.Millisecond), WithStats())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, dispatch.Queue(64))
	if err != nil {
		t.Fatal(err)
	}
	first, err := sub.Next(ctx)
	if err != nil || !first.Quorate || len(first.Members) != 3 {
		t.Fatalf("first %+v %v", first, err)
	}
	// Nothing changes: nothing is delivered.
	time.Sleep(100 * time.Millisecond)
	if ev, err := sub.TryNext(); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("idle cluster delivered %+v %v", ev.Snapshot, err)
	}
	until := func(what string, ok func(Snapshot) bool) {
		t.Helper()
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok(ev.Snapshot) {
				return
			}
		}
	}
	cl.Kill(3)
	until("node 3 killed", func(s Snapshot) bool {
		n, _ := s.Node(3)
		return slices.Equal(s.Members, []uint32{1, 2}) && n.State == votequorum.NodeStateDead
	})
	cl.Start(3)
	cl.Partition([]uint32{1}, []uint32{2, 3})
	until("partitioned", func(s Snapshot) bool { return !s.Quorate && len(s.Members) == 1 })
	cl.Heal()
	until("healed", func(s Snapshot) bool { return s.Quorate && len(s.Members) == 3 })
	if l := c.Latest(); !l.Quorate || len(l.Members) != 3 {
		t.Fatalf("latest %+v", l)
	}
	// A second subscriber starts with the current state.
	sub2, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := sub2.Next(ctx); err != nil || !ev.Quorate || len(ev.Members) != 3 {
		t.Fatalf("second subscriber's first %+v %v", ev, err)
	}
	sub2.Close()
	sub.Drain()
	// Close ends the subscription.
	c.Close()
	for range sub.C() {
	}
	if _, err := c.Subscribe(ctx); err == nil {
		t.Fatal("Subscribe after Close")
	}
}

// sameState ignores the time, statistics and counters, and compares
// missing parts by part and code.
func TestSameState(t *testing.T) {
	a := Snapshot{Time: time.Now(), Quorate: true, Members: []uint32{1}, Stats: &Stats{}, Changes: Changes{Quorum: 1},
		Missing: []*PartError{{Part: PartCfg, Err: corosync.NewError("x", corosync.ErrAccess, nil)}}}
	b := a
	b.Time, b.Stats, b.Changes = time.Now().Add(time.Second), &Stats{IPC: &IPCStats{Active: 3}}, Changes{}
	b.Missing = []*PartError{{Part: PartCfg, Err: corosync.NewError("y", corosync.ErrAccess, nil)}}
	if !sameState(a, b) {
		t.Fatal("same state differs")
	}
	b.Members = []uint32{1, 2}
	if sameState(a, b) {
		t.Fatal("members changed, same state")
	}
	b.Members = a.Members
	b.Missing = []*PartError{{Part: PartCfg, Err: corosync.NewError("y", corosync.ErrLibrary, nil)}}
	if sameState(a, b) {
		t.Fatal("another cause, same state")
	}
}
