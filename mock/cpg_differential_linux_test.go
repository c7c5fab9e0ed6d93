package mock_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

// cpgSide is one 3-node cluster, real or mock, as the differential script
// drives it: raw cpg connections (requests and events byte for byte as a
// C client would send them) and the failures.
type cpgSide struct {
	t         *testing.T
	name      string
	dial      func(ctx context.Context, node uint32) (transport.Conn, error)
	kill      func(node uint32) error
	partition func(groups ...[]uint32) error
	heal      func() error
	members   func(ctx context.Context, node uint32, ids ...uint32) error // wait until node sees ids
	log       []string
}

type cpgRaw struct {
	s    *cpgSide
	name string
	c    transport.Conn
}

func (s *cpgSide) open(ctx context.Context, node uint32, name string) *cpgRaw {
	s.t.Helper()
	c, err := s.dial(ctx, node)
	if err != nil {
		s.t.Fatalf("%s: dial cpg on node %d: %v", s.name, node, err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &cpgRaw{s: s, name: name, c: c}
}

func (s *cpgSide) note(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf(format, args...))
}

// raw sends req and records the answer's error code under what.
func (r *cpgRaw) raw(ctx context.Context, what string, reqID int32, req []byte) {
	r.s.t.Helper()
	out, err := r.c.Request(ctx, req, nil)
	if err != nil {
		r.s.note("%s: %s: transport error %v", r.name, what, corosync.Code(err))
		return
	}
	res, err := cpgwire.DecodeResponse(out, reqID)
	if err != nil {
		r.s.t.Fatalf("%s: %s: %s: %v", r.s.name, r.name, what, err)
	}
	if reqID == cpgwire.ReqMembership {
		r.s.note("%s: %s: %v %v", r.name, what, res.Error, res.Members)
		return
	}
	r.s.note("%s: %s: %v", r.name, what, res.Error)
}

func (r *cpgRaw) do(ctx context.Context, what string, q cpgwire.Request) {
	r.s.t.Helper()
	req, err := cpgwire.AppendRequest(nil, q)
	if err != nil {
		r.s.t.Fatal(err)
	}
	r.raw(ctx, what, q.ID, req)
}

// confchg reads events until a group confchg and records it; totem
// confchgs are skipped, deliveries recorded.
func (r *cpgRaw) confchg(ctx context.Context, what string) {
	r.s.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		b, err := r.c.ReadEvent(ctx)
		if err != nil {
			r.s.note("%s: %s: no confchg: %v", r.name, what, corosync.Code(err))
			return
		}
		e, err := cpgwire.DecodeEvent(b)
		if err != nil {
			r.s.t.Fatalf("%s: %s: %v", r.s.name, r.name, err)
		}
		switch e.ID {
		case cpgwire.EvConfchg:
			r.s.note("%s: %s: confchg %q members %v joined %v left %v", r.name, what, e.Group.String(), e.Members, e.Joined, e.Left)
			return
		case cpgwire.EvDeliver:
			r.s.note("%s: %s: deliver %q from %d/%d", r.name, what, e.Payload, e.NodeID, e.PID)
		}
	}
}

// quiet records whatever deliveries or confchgs arrive within d.
func (r *cpgRaw) quiet(ctx context.Context, what string, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	n := 0
	for {
		b, err := r.c.ReadEvent(ctx)
		if err != nil {
			break
		}
		if e, err := cpgwire.DecodeEvent(b); err == nil && e.ID != cpgwire.EvTotemConfchg {
			r.s.note("%s: %s: unexpected %v", r.name, what, e)
			n++
		}
	}
	r.s.note("%s: %s: %d events", r.name, what, n)
}

// script is the same sequence of calls and failures on either side.
func (s *cpgSide) script(ctx context.Context) {
	const g = cpgwire.Name("diff")
	join := func(r *cpgRaw, what string, group cpgwire.Name, pid uint32) {
		r.do(ctx, what, cpgwire.Request{ID: cpgwire.ReqJoin, Group: group, PID: pid, Flags: 0})
	}
	a := s.open(ctx, 1, "a@1")
	join(a, "join", g, 1001)
	a.confchg(ctx, "own join")
	join(a, "join twice", g, 1001)
	join(a, "join another group, same connection", "diff-other", 1001)

	b := s.open(ctx, 1, "b@1")
	mc, err := cpgwire.AppendRequest(nil, cpgwire.Request{ID: cpgwire.ReqMcast, Payload: []byte("unjoined")})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := b.c.Send(ctx, mc); err != nil {
		s.note("b@1: mcast while not joined: send: %v", corosync.Code(err))
	}
	b.quiet(ctx, "after mcast while not joined", 300*time.Millisecond)
	a.quiet(ctx, "after b's unjoined mcast", 300*time.Millisecond)
	pm, err := cpgwire.AppendRequest(nil, cpgwire.Request{ID: cpgwire.ReqPartialMcast, MsgLen: 8, Type: cpgwire.PartialFirst, Payload: []byte("part")})
	if err != nil {
		s.t.Fatal(err)
	}
	b.raw(ctx, "partial mcast while not joined", cpgwire.ReqPartialMcast, pm)
	b.do(ctx, "leave while not joined", cpgwire.Request{ID: cpgwire.ReqLeave, Group: g, PID: 1002})

	long, err := cpgwire.AppendRequest(nil, cpgwire.Request{ID: cpgwire.ReqJoin, Group: cpgwire.Name(strings.Repeat("x", cpgwire.MaxNameLen)), PID: 1002})
	if err != nil {
		s.t.Fatal(err)
	}
	long[16] = cpgwire.MaxNameLen + 1 // the name's length field: 129
	b.raw(ctx, "join with a 129-byte name", cpgwire.ReqJoin, long)
	join(b, "join same group and pid as a, other connection", g, 1001)

	// a leaves: leave twice, join again on the same connection, then
	// finalize and rejoin on a fresh one.
	a.do(ctx, "leave", cpgwire.Request{ID: cpgwire.ReqLeave, Group: g, PID: 1001})
	a.confchg(ctx, "own leave")
	a.do(ctx, "leave twice", cpgwire.Request{ID: cpgwire.ReqLeave, Group: g, PID: 1001})
	join(a, "join again after leave, same connection", g, 1001)
	a.do(ctx, "finalize", cpgwire.Request{ID: cpgwire.ReqFinalize})
	c := s.open(ctx, 1, "c@1")
	join(c, "rejoin after leave and finalize, fresh connection", g, 1001)
	c.confchg(ctx, "rejoin")

	// Close without leave: procdown.
	d := s.open(ctx, 2, "d@2")
	join(d, "join", g, 2001)
	c.confchg(ctx, "d joins")
	d.c.Close()
	c.confchg(ctx, "d closed without leaving")

	// Kill: nodedown.
	e := s.open(ctx, 3, "e@3")
	join(e, "join", g, 3001)
	c.confchg(ctx, "e joins")
	if err := s.kill(3); err != nil {
		s.t.Fatal(err)
	}
	c.confchg(ctx, "node 3 killed")

	// Partition and heal: nodedown, nodeup.
	f := s.open(ctx, 2, "f@2")
	join(f, "join", g, 2002)
	f.confchg(ctx, "own join")
	c.confchg(ctx, "f joins")
	if err := s.members(ctx, 1, 1, 2); err != nil {
		s.t.Fatal(err)
	}
	if err := s.partition([]uint32{1}, []uint32{2}); err != nil {
		s.t.Fatal(err)
	}
	c.confchg(ctx, "partitioned from node 2")
	f.confchg(ctx, "partitioned from node 1")
	if err := s.members(ctx, 1, 1); err != nil {
		s.t.Fatal(err)
	}
	if err := s.heal(); err != nil {
		s.t.Fatal(err)
	}
	c.confchg(ctx, "healed")
	f.confchg(ctx, "healed")
	c.do(ctx, "membership", cpgwire.Request{ID: cpgwire.ReqMembership, Group: g})
}

// The mock's cpg error codes and confchg reasons equal real corosync
// 3.1.7's for the same calls: join twice, join another group on the same
// connection, leave twice, mcast and partial mcast while not joined, a
// 129-byte name, join after leave (same connection; fresh one after
// finalize), close without leave (procdown), kill (nodedown), partition
// (nodedown) and heal (nodeup).
func TestCPGMockEqualsReal(t *testing.T) {
	corotest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cl := corotest.Start(t, 3, corotest.Options{})
	if err := cl.WaitFormed(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	real := &cpgSide{t: t, name: "real",
		dial: func(ctx context.Context, id uint32) (transport.Conn, error) {
			return cl.Node(id).Dialer().Dial(ctx, "cpg")
		},
		kill:      func(id uint32) error { return cl.Node(id).Kill() },
		partition: cl.Split,
		heal:      cl.Heal,
		members: func(ctx context.Context, id uint32, ids ...uint32) error {
			return cl.Node(id).WaitMembers(ctx, ids...)
		},
	}
	fake := mock.NewCluster(3)
	mk := &cpgSide{t: t, name: "mock",
		dial: func(ctx context.Context, id uint32) (transport.Conn, error) {
			return fake.Node(id).Dial(ctx, "cpg")
		},
		kill:      func(id uint32) error { fake.Kill(id); return nil },
		partition: func(groups ...[]uint32) error { fake.Partition(groups...); return nil },
		heal:      func() error { fake.Heal(); return nil },
		members: func(ctx context.Context, id uint32, ids ...uint32) error {
			for !slices.Equal(fake.Node(id).Members(), ids) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
			return nil
		},
	}
	real.script(ctx)
	mk.script(ctx)
	for i := range max(len(real.log), len(mk.log)) {
		var r, m string
		if i < len(real.log) {
			r = real.log[i]
		}
		if i < len(mk.log) {
			m = mk.log[i]
		}
		if r != m {
			t.Errorf("step %d:\nreal: %s\nmock: %s", i, r, m)
		} else {
			t.Log(r)
		}
	}
}
