//go:build oracle && linux

package cpgoracle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(memberEnv); spec != "" {
		os.Exit(runMember(spec)) // a member process of the benchmarks (memberProcess)
	}
	if spec := os.Getenv(pingerEnv); spec != "" {
		os.Exit(runPinger(spec)) // a measured client of the benchmarks (startPinger)
	}
	goleak.VerifyTestMain(m)
}

// raw is a pure-Go cpg connection speaking cpgwire directly.
type raw struct {
	t *testing.T
	c *transport.IPCConn
}

func dial(t *testing.T, n *corotest.Node) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "cpg", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c}
}

func (r *raw) do(req cpgwire.Request) cpgwire.Response {
	r.t.Helper()
	b, err := cpgwire.AppendRequest(nil, req)
	if err != nil {
		r.t.Fatal(err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := r.c.Request(ctx, b, nil)
		cancel()
		if err != nil {
			r.t.Fatal(err)
		}
		res, err := cpgwire.DecodeResponse(resp, req.ID)
		if err != nil {
			r.t.Fatal(err)
		}
		if res.Error != corosync.ErrTryAgain {
			return res
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *raw) event(d time.Duration) (cpgwire.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b, err := r.c.ReadEvent(ctx)
	if err != nil {
		return cpgwire.Event{}, err
	}
	e, err := cpgwire.DecodeEvent(b)
	e.Payload = slices.Clone(e.Payload)
	return e, err
}

// delivered is one message as a receiver saw it.
type delivered struct {
	NodeID, PID uint32
	Payload     string
}

func deliveries(evs []cpgwire.Event) []delivered {
	var out []delivered
	for _, e := range evs {
		if e.ID == cpgwire.EvDeliver {
			out = append(out, delivered{e.NodeID, e.PID, string(e.Payload)})
		}
	}
	return out
}

func waitConfchg(t *testing.T, c *Client, members int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 1; ; n++ {
		evs, err := c.WaitEvents(ctx, n)
		if err != nil {
			t.Fatalf("waiting for a confchg of %d members: %v (events %v)", members, err, evs)
		}
		if slices.ContainsFunc(evs, func(e cpgwire.Event) bool { return e.ID == cpgwire.EvConfchg && len(e.Members) == members }) {
			return
		}
	}
}

// TestInterop: C libcpg clients on the three nodes of a real cluster and a
// pure-Go cpgwire connection join one group and send concurrently; every
// member delivers the same sequence. The Go side's fragmented messages are
// reassembled by libcpg, its MCAST is delivered to the C clients, and the C
// clients' messages decode with cpgwire.
func TestInterop(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	g := cpgwire.Name("oracle-group")
	var cs []*Client
	for _, n := range cl.Nodes {
		c, err := Open(n.NetNSPath(), cpgwire.ModelV1DeliverInitialTotemConf)
		if err != nil {
			t.Fatalf("node %d: open: %v", n.ID, err)
		}
		defer c.Finalize()
		if id, err := c.LocalGet(); err != nil || id != n.ID {
			t.Errorf("node %d: cpg_local_get = %d, %v", n.ID, id, err)
		}
		if m, err := c.MaxAtomicMsgSize(); err != nil || m != cpgwire.MaxAtomicMsgSize {
			t.Errorf("cpg_max_atomic_msgsize_get = %d, %v; cpgwire says %d", m, err, cpgwire.MaxAtomicMsgSize)
		}
		if err := c.Join(g); err != nil {
			t.Fatalf("node %d: join: %v", n.ID, err)
		}
		waitConfchg(t, c, len(cs)+1)
		cs = append(cs, c)
	}
	// The initial totem confchg (flag 1) equals what a raw join sees.
	for i, c := range cs {
		var tc *cpgwire.Event
		for _, e := range c.Events() {
			if e.ID == cpgwire.EvTotemConfchg {
				tc = &e
				break
			}
		}
		if tc == nil || !slices.Equal(tc.TotemMembers, []uint32{1, 2, 3}) {
			t.Errorf("C client %d: initial totem confchg %v", i+1, tc)
		}
	}
	const goPID = 4242
	r := dial(t, cl.Node(2))
	if res := r.do(cpgwire.Request{ID: cpgwire.ReqJoin, Group: g, PID: goPID, Flags: cpgwire.ModelV1DeliverInitialTotemConf}); res.Error != corosync.OK {
		t.Fatalf("raw join: %v", res.Error)
	}
	for _, c := range cs {
		waitConfchg(t, c, 4)
	}
	// Membership: libcpg and cpgwire agree.
	want := r.do(cpgwire.Request{ID: cpgwire.ReqMembership, Group: g}).Members
	for i, c := range cs {
		got, err := c.MembershipGet(g)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("C client %d: membership %v %v; cpgwire %v", i+1, got, err, want)
		}
	}
	pid := uint32(os.Getpid())
	if !slices.Contains(want, cpgwire.Address{NodeID: 2, PID: goPID}) || !slices.Contains(want, cpgwire.Address{NodeID: 1, PID: pid}) {
		t.Errorf("membership %v", want)
	}

	// Concurrent sends: 100 messages per C client, and from Go three
	// fragmented messages and one MCAST.
	const perClient = 100
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for k := range perClient {
				msg := fmt.Appendf(nil, "c%d-%03d", i+1, k)
				for {
					err := c.McastJoined(cpgwire.GuaranteeAgreed, msg)
					if err == nil {
						break
					}
					if !errors.Is(err, corosync.ErrTryAgain) {
						t.Errorf("C client %d: mcast: %v", i+1, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	var big [][]byte
	for k := range 3 {
		msg := bytes.Repeat(fmt.Appendf(nil, "go-fragmented-%d;", k), 200)
		big = append(big, msg)
		for _, f := range cpgwire.Fragments(len(msg), 1000) {
			res := r.do(cpgwire.Request{ID: cpgwire.ReqPartialMcast, Guarantee: cpgwire.GuaranteeAgreed,
				MsgLen: uint32(len(msg)), Type: f.Type, Payload: msg[f.Off : f.Off+f.Len]})
			if res.Error != corosync.OK {
				t.Fatalf("partial_mcast: %v", res.Error)
			}
		}
		time.Sleep(time.Millisecond)
	}
	mc, _ := cpgwire.AppendRequest(nil, cpgwire.Request{ID: cpgwire.ReqMcast, Guarantee: cpgwire.GuaranteeAgreed, Payload: []byte("go-mcast")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if _, err := r.c.Request(ctx, mc, nil); !errors.Is(err, corosync.ErrTimeout) {
		t.Errorf("raw mcast: %v, want no answer", err)
	}
	cancel()
	wg.Wait()

	total := 3*perClient + len(big) + 1
	var seqs [][]delivered
	for i, c := range cs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			evs, err := c.WaitEvents(ctx, len(c.Events())+1)
			if len(deliveries(evs)) >= total {
				break
			}
			if err != nil {
				t.Fatalf("C client %d: %d of %d messages: %v", i+1, len(deliveries(evs)), total, err)
			}
		}
		cancel()
		seqs = append(seqs, deliveries(c.Events()))
	}
	// The Go receiver: deliver events, and fragments reassembled here.
	var goSeq []delivered
	var asm []byte
	for len(goSeq) < total {
		e, err := r.event(20 * time.Second)
		if err != nil {
			t.Fatalf("raw receiver after %d messages: %v", len(goSeq), err)
		}
		switch e.ID {
		case cpgwire.EvDeliver:
			goSeq = append(goSeq, delivered{e.NodeID, e.PID, string(e.Payload)})
		case cpgwire.EvPartialDeliver:
			if e.Type == cpgwire.PartialFirst {
				asm = asm[:0]
			}
			asm = append(asm, e.Payload...)
			if e.Type == cpgwire.PartialLast {
				goSeq = append(goSeq, delivered{e.NodeID, e.PID, string(asm)})
			}
		}
	}
	for i, s := range seqs {
		if !slices.Equal(s, seqs[0]) {
			t.Errorf("C client %d delivered another sequence than client 1", i+1)
		}
	}
	if !slices.Equal(goSeq, seqs[0]) {
		for i := range min(len(goSeq), len(seqs[0])) {
			if goSeq[i] != seqs[0][i] {
				t.Fatalf("Go receiver differs at message %d: %v vs C %v", i, goSeq[i], seqs[0][i])
			}
		}
		t.Errorf("Go receiver: %d messages, C: %d", len(goSeq), len(seqs[0]))
	}
	// Per sender: in sending order, with the right node and pid.
	next := map[uint32]int{}
	var goMsgs []string
	for _, d := range seqs[0] {
		if d.PID == goPID {
			if d.NodeID != 2 {
				t.Errorf("Go message from node %d", d.NodeID)
			}
			goMsgs = append(goMsgs, d.Payload)
			continue
		}
		if d.PID != pid {
			t.Errorf("message from pid %d", d.PID)
		}
		if want := fmt.Sprintf("c%d-%03d", d.NodeID, next[d.NodeID]); d.Payload != want {
			t.Errorf("node %d: %q where %q was expected", d.NodeID, d.Payload, want)
		}
		next[d.NodeID]++
	}
	wantGo := []string{string(big[0]), string(big[1]), string(big[2]), "go-mcast"}
	if !slices.Equal(goMsgs, wantGo) {
		t.Errorf("Go messages as libcpg delivered them: %d, want the 3 reassembled ones and the mcast", len(goMsgs))
	}
	t.Logf("%d messages delivered in the same order to 3 libcpg clients and the Go receiver", total)
}

// TestOversizedDeliver: a raw MCAST of 1048393 bytes (one more than a
// DELIVER event of 1 MiB carries) reaches a libcpg receiver's event ring
// anyway; what does libcpg's dispatch do with it? (cpgwire's
// TestDaemonTraits: our transport drops the connection.)
func TestOversizedDeliver(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	g := cpgwire.Name("oracle-big")
	c, err := Open(cl.Node(1).NetNSPath(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Finalize()
	if err := c.Join(g); err != nil {
		t.Fatal(err)
	}
	waitConfchg(t, c, 1)
	r := dial(t, cl.Node(1))
	if res := r.do(cpgwire.Request{ID: cpgwire.ReqJoin, Group: g, PID: 77}); res.Error != corosync.OK {
		t.Fatal(res.Error)
	}
	waitConfchg(t, c, 2)
	n := 1048576 - cpgwire.DeliverEventSize + 1
	req := make([]byte, cpgwire.McastHeaderSize+n)
	copy(req, []byte{2, 0, 0, 0})
	req[8], req[9], req[10], req[11] = byte(len(req)), byte(len(req)>>8), byte(len(req)>>16), byte(len(req)>>24)
	req[32], req[33], req[34], req[35] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	r.c.Request(ctx, req, nil)
	cancel()
	before := len(c.Events())
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	evs, err := c.WaitEvents(ctx, before+1)
	t.Logf("libcpg after a %d-byte DELIVER event: %v, %d new events", cpgwire.DeliverEventSize+n, err, len(evs)-before)
	for _, e := range evs[before:] {
		t.Logf("  %v", e)
	}
	if _, err := c.LocalGet(); err != nil {
		t.Errorf("cpg_local_get afterwards: %v", err)
	}
	if len(evs) != before {
		t.Errorf("libcpg delivered something: %v", evs[before:])
	}
	// Later events stay behind the oversized one: the receiver is stuck.
	r2 := dial(t, cl.Node(1))
	if res := r2.do(cpgwire.Request{ID: cpgwire.ReqJoin, Group: g, PID: 78}); res.Error != corosync.OK {
		t.Fatal(res.Error)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	evs, err = c.WaitEvents(ctx2, before+1)
	t.Logf("libcpg after a later join: %v, %d new events", err, len(evs)-before)
	if len(evs) != before {
		t.Errorf("libcpg got events after the oversized one: %v", evs[before:])
	}
}
