package cpgwire

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
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// TestDaemonTraits asserts the behaviour of corosync 3.1.7's cpg service
// that SPEC.md records, on a real 3-node cluster, so a change in the daemon
// shows up here. The last subtest kills node 3.
func TestDaemonTraits(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	n1, n2, n3 := cl.Node(1), cl.Node(2), cl.Node(3)

	t.Run("queries", func(t *testing.T) {
		a := dialCPG(t, n1, "a")
		r := a.do(Request{ID: ReqLocalGet}, "local_get")
		if r.ID != ResLocalGet || r.LocalNodeID != 1 {
			t.Errorf("local_get: %+v", r)
		}
		r = a.do(Request{ID: ReqMembership, Group: "nosuchgroup"}, "membership_empty")
		if r.ID != ResMembership || r.Error != corosync.OK || len(r.Members) != 0 {
			t.Errorf("membership of an unknown group: %+v", r)
		}
		for _, id := range []int32{13, 14, 100, -1} {
			req := make([]byte, 16)
			le.PutUint32(req[0:], uint32(id))
			le.PutUint32(req[8:], 16)
			b, err := a.raw(req, 10*time.Second)
			if err != nil {
				t.Fatalf("request id %d: %v", id, err)
			}
			if id == 13 {
				capture(t, "FuzzDecodeResponse", "reject", b, id)
			}
			r, err := DecodeResponse(b, id)
			if err != nil || len(b) != StatusResponseSize || r.ID != ResReject || r.Error != corosync.ErrInvalidParam {
				t.Errorf("request id %d: %x %+v %v", id, b, r, err)
			}
		}
		// Iteration over no groups: NO_SECTIONS at once.
		it := a.do(Request{ID: ReqIterInitialize, IterType: IterAll}, "iter_init")
		if it.ID != ResIterInitialize || it.Error != corosync.OK {
			t.Fatalf("iteration_initialize: %+v", it)
		}
		expect(t, "iteration_next on no groups", a.do(Request{ID: ReqIterNext, Handle: it.Handle}, "iter_next_end").Error, corosync.ErrNoSections)
		expect(t, "iteration_finalize", a.do(Request{ID: ReqIterFinalize, Handle: it.Handle}, "iter_finalize").Error, corosync.OK)
		expect(t, "iteration_next, bad handle", a.do(Request{ID: ReqIterNext, Handle: it.Handle}, "iter_next_bad").Error, corosync.ErrLibrary)
		expect(t, "iteration_finalize, bad handle", a.do(Request{ID: ReqIterFinalize, Handle: 0x1234}, "iter_finalize_bad").Error, corosync.ErrLibrary)
		expect(t, "leave while not joined", a.do(Request{ID: ReqLeave, Group: "g", PID: 1}, "leave_notexist").Error, corosync.ErrNotExist)
		expect(t, "partial_mcast while not joined", a.do(Request{ID: ReqPartialMcast, Type: PartialFirst, MsgLen: 3, Payload: []byte("abc")}, "partial_notexist").Error, corosync.ErrNotExist)
		expect(t, "finalize", a.do(Request{ID: ReqFinalize}, "finalize").Error, corosync.OK)
	})

	t.Run("join", func(t *testing.T) {
		g := Name("traits-join")
		a := dialCPG(t, n1, "a")
		expect(t, "join", a.do(Request{ID: ReqJoin, Group: g, PID: 1001, Flags: ModelV1DeliverInitialTotemConf}, "join_ok").Error, corosync.OK)
		cc := a.want(5*time.Second, "confchg_join_self", "own join confchg", isConfchg(g))
		if !slices.Equal(cc.Members, []Address{{1, 1001, 0}}) || !slices.Equal(cc.Joined, []Address{{1, 1001, ReasonJoin}}) || len(cc.Left) != 0 {
			t.Errorf("own join confchg: %v", cc)
		}
		tc := a.want(5*time.Second, "totem_confchg_initial", "initial totem confchg", func(e Event) bool { return e.ID == EvTotemConfchg })
		if !slices.Equal(tc.TotemMembers, []uint32{1, 2, 3}) || tc.Ring.NodeID == 0 {
			t.Errorf("initial totem confchg: %v", tc)
		}
		expect(t, "join again, same connection", a.do(Request{ID: ReqJoin, Group: g, PID: 1001}, "join_exist").Error, corosync.ErrExist)
		expect(t, "join another group, same connection", a.join("traits-other", 1001, 0), corosync.ErrExist)
		b := dialCPG(t, n1, "b")
		expect(t, "join, same pid and group, other connection", b.join(g, 1001, 0), corosync.ErrExist)
		// Name lengths: 129 is refused by the daemon, 128 accepted.
		resp, err := b.raw(rawNameReq(ReqJoin, JoinRequestSize, MaxNameLen+1, 1002), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		capture(t, "FuzzDecodeResponse", "join_name_too_long", resp, ReqJoin)
		r, err := DecodeResponse(resp, ReqJoin)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, "join with a 129-byte name", r.Error, corosync.ErrNameTooLong)
		if _, err := AppendRequest(nil, Request{ID: ReqJoin, Group: Name(strings.Repeat("x", 129)), PID: 1}); !errors.Is(err, corosync.ErrNameTooLong) {
			t.Errorf("encoder: 129-byte name: %v", err)
		}
		long := Name(strings.Repeat("x", MaxNameLen))
		expect(t, "join with a 128-byte name", b.join(long, 1002, 0), corosync.OK)
		b.want(5*time.Second, "", "128-byte name confchg", isConfchg(long))
		// Pacemaker's trailing NUL makes another group.
		c := dialCPG(t, n2, "c")
		d := dialCPG(t, n2, "d")
		expect(t, `join "crmd"`, c.join("crmd", 2001, 0), corosync.OK)
		expect(t, `join "crmd\x00"`, d.join(CNameOf("crmd"), 2001, 0), corosync.OK)
		c.want(5*time.Second, "", "crmd confchg", isConfchg("crmd"))
		dc := d.want(5*time.Second, "confchg_crmd_nul", "crmd\\0 confchg", isConfchg(CNameOf("crmd")))
		if len(dc.Members) != 1 {
			t.Errorf(`"crmd\x00" members: %v`, dc.Members)
		}
		for _, name := range []Name{"crmd", CNameOf("crmd")} {
			m := a.do(Request{ID: ReqMembership, Group: name}, "membership_"+strings.Trim(fmt.Sprintf("%x", len(name)), " "))
			if !slices.Equal(m.Members, []Address{{2, 2001, 0}}) {
				t.Errorf("membership %q from node 1: %v", name.String(), m.Members)
			}
		}
		m := a.do(Request{ID: ReqMembership, Group: g}, "membership_one")
		if !slices.Equal(m.Members, []Address{{1, 1001, 0}}) {
			t.Errorf("membership %q: %v", g, m.Members)
		}
		// Iteration: every group with its members; NAME_ONLY; wrap-around.
		it := a.do(Request{ID: ReqIterInitialize, IterType: IterAll}, "")
		var all []IterationEntry
		for i := 0; i < 20; i++ {
			r := a.do(Request{ID: ReqIterNext, Handle: it.Handle}, map[bool]string{true: "iter_next", false: ""}[i == 0])
			if r.Error == corosync.ErrNoSections {
				break
			}
			all = append(all, r.Entry)
		}
		t.Logf("iteration ALL: %v", all)
		if len(all) != 4 {
			t.Errorf("iteration ALL listed %d entries, want 4: %v", len(all), all)
		}
		wrap := a.do(Request{ID: ReqIterNext, Handle: it.Handle}, "")
		t.Logf("iteration_next after NO_SECTIONS: %s %v", wrap.Error.Name(), wrap.Entry)
		if wrap.Error != corosync.OK || wrap.Entry != all[0] {
			t.Errorf("iteration_next after NO_SECTIONS: %+v, want a wrap to %v", wrap, all[0])
		}
		a.do(Request{ID: ReqIterFinalize, Handle: it.Handle}, "")
		it = a.do(Request{ID: ReqIterInitialize, IterType: IterNameOnly}, "")
		names := 0
		for {
			r := a.do(Request{ID: ReqIterNext, Handle: it.Handle}, "")
			if r.Error != corosync.OK {
				break
			}
			if r.Entry.NodeID != 0 || r.Entry.PID != 0 {
				t.Errorf("NAME_ONLY entry %v", r.Entry)
			}
			names++
		}
		if names != 4 {
			t.Errorf("NAME_ONLY listed %d groups, want 4", names)
		}
		it = a.do(Request{ID: ReqIterInitialize, IterType: IterOneGroup, Group: "crmd"}, "iter_init_one")
		r = a.do(Request{ID: ReqIterNext, Handle: it.Handle}, "")
		if r.Entry != (IterationEntry{"crmd", 2, 2001}) {
			t.Errorf("ONE_GROUP crmd: %+v", r)
		}
	})

	t.Run("mcast", func(t *testing.T) {
		g := Name("traits-mcast")
		a := dialCPG(t, n1, "a")
		b := dialCPG(t, n2, "b")
		expect(t, "join a", a.join(g, 1101, 0), corosync.OK)
		a.want(5*time.Second, "", "own confchg", isConfchg(g))
		expect(t, "join b", b.join(g, 2101, 0), corosync.OK)
		b.want(5*time.Second, "confchg_join_two", "own confchg", isConfchg(g))
		a.want(5*time.Second, "", "b's join confchg", isConfchg(g))
		// An MCAST has no answer: the request times out, the message is
		// delivered to every member, the sender included.
		start := time.Now()
		resp, err := a.mcast([]byte("hello, group"), 2*time.Second)
		if err == nil {
			t.Errorf("mcast got an answer: %x", resp)
		} else if !errors.Is(err, corosync.ErrTimeout) {
			t.Fatalf("mcast: %v", err)
		} else {
			t.Logf("mcast: no answer within 2s (%v)", err)
		}
		for _, c := range []*conn{a, b} {
			e := c.want(5*time.Second, "deliver", "delivery", isDeliver(1101))
			if e.ID != EvDeliver || e.NodeID != 1 || string(e.Payload) != "hello, group" || e.Group != g {
				t.Errorf("%s: %v", c.name, e)
			}
		}
		t.Logf("delivered, and no answer, %v after the send", time.Since(start).Round(time.Millisecond))
		// A message sent while not joined is dropped (and gets no answer).
		u := dialCPG(t, n1, "unjoined")
		if _, err := u.mcast([]byte("dropped"), time.Second); err == nil {
			t.Errorf("unjoined mcast got an answer")
		}
		b.none(2*time.Second, "delivery of an unjoined mcast", func(e Event) bool { return e.ID == EvDeliver })
		if !strings.Contains(n1.Log(), "can't mcast to group") {
			t.Errorf("node 1's log does not mention the dropped mcast")
		}
		// An empty message is delivered.
		e := dialCPG(t, n1, "empty")
		expect(t, "join empty", e.join(g, 1102, 0), corosync.OK)
		e.want(5*time.Second, "", "own confchg", isConfchg(g))
		e.mcast(nil, 500*time.Millisecond)
		if ev := b.want(5*time.Second, "deliver_empty", "empty delivery", isDeliver(1102)); len(ev.Payload) != 0 {
			t.Errorf("empty message: %v", ev)
		}
		// Partial messages: answered; delivered as partial deliver events.
		p := dialCPG(t, n1, "partial")
		expect(t, "join partial", p.join(g, 1103, 0), corosync.OK)
		p.want(5*time.Second, "", "own confchg", isConfchg(g))
		first := mustEncode(t, Request{ID: ReqPartialMcast, Guarantee: GuaranteeAgreed, MsgLen: 5, Type: PartialFirst, Payload: []byte("abc")})
		capture(t, "FuzzDecodeRequest", "partial_first", first, 0)
		if code, err := p.partial(PartialFirst, 5, []byte("abc")); err != nil || code != corosync.OK {
			t.Fatalf("partial FIRST: %v %v", code, err)
		}
		resp, err = p.raw(mustEncode(t, Request{ID: ReqPartialMcast, MsgLen: 5, Type: PartialLast, Payload: []byte("de")}), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		capture(t, "FuzzDecodeResponse", "partial_ok", resp, ReqPartialMcast)
		if r, err := DecodeResponse(resp, ReqPartialMcast); err != nil || r.ID != ResPartialSend || r.Error != corosync.OK {
			t.Errorf("partial LAST answer: %+v %v", r, err)
		}
		f1 := b.want(5*time.Second, "partial_first", "first fragment", isDeliver(1103))
		f2 := b.want(5*time.Second, "partial_last", "last fragment", isDeliver(1103))
		if f1.ID != EvPartialDeliver || f1.Type != PartialFirst || string(f1.Payload) != "abc" || f1.MsgLen != 5 ||
			f2.Type != PartialLast || string(f2.Payload) != "de" || f2.NodeID != 1 {
			t.Errorf("fragments: %v / %v", f1, f2)
		}
	})

	t.Run("largest", func(t *testing.T) {
		g := Name("traits-large")
		b := dialCPG(t, n2, "receiver")
		expect(t, "join receiver", b.join(g, 2201, 0), corosync.OK)
		b.want(5*time.Second, "", "own confchg", isConfchg(g))
		pid := uint32(1200)
		sender := func() *conn {
			pid++
			s := dialCPG(t, n1, fmt.Sprintf("sender%d", pid))
			expect(t, "join sender", s.join(g, pid, 0), corosync.OK)
			s.want(5*time.Second, "", "own confchg", isConfchg(g))
			b.want(5*time.Second, "", "sender's confchg", isConfchg(g))
			return s
		}
		got := func(what string) (Event, bool) {
			t.Helper()
			e, err := b.event(3*time.Second, "")
			if err != nil {
				if errors.Is(err, corosync.ErrTimeout) {
					t.Logf("%s: nothing delivered", what)
					return e, false
				}
				t.Fatal(err)
			}
			t.Logf("%s: %v", what, e)
			return e, true
		}
		// One MCAST of libcpg's atomic size is delivered, and so is the
		// largest whose DELIVER event still fits the receiver's ring.
		for _, n := range []int{MaxAtomicMsgSize, maxDeliverable} {
			s := sender()
			req := make([]byte, McastHeaderSize+n)
			le.PutUint32(req[0:], uint32(ReqMcast))
			le.PutUint32(req[8:], uint32(len(req)))
			le.PutUint32(req[32:], uint32(n))
			req[len(req)-1] = 0x5a
			if _, err := s.raw(req, time.Second); err == nil {
				t.Errorf("mcast of %d bytes got an answer", n)
			}
			if e, ok := got(fmt.Sprintf("mcast of %d bytes", n)); !ok || e.ID != EvDeliver || len(e.Payload) != n || e.Payload[n-1] != 0x5a {
				t.Errorf("mcast of %d bytes not delivered", n)
			}
		}
		// One byte more: the daemon writes a DELIVER event of 1 MiB + 1 into
		// the receiver's event ring (the ring has room, libqb does not check
		// the negotiated maximum). Our transport takes event chunks up to
		// the ring's size, so the receiver gets it, whole (libcpg wedges).
		s := sender()
		n := maxDeliverable + 1
		req := make([]byte, McastHeaderSize+n)
		le.PutUint32(req[0:], uint32(ReqMcast))
		le.PutUint32(req[8:], uint32(len(req)))
		le.PutUint32(req[32:], uint32(n))
		s.raw(req, time.Second)
		if e, err := b.event(3*time.Second, ""); err != nil || e.ID != EvDeliver || len(e.Payload) != n {
			t.Errorf("mcast of %d bytes: receiver got %v, %v; want it delivered", n, e, err)
		} else {
			t.Logf("mcast of %d bytes: receiver got %v", n, e)
		}
		// The same limit for a fragment: 200 + fraglen must fit.
		for _, f := range []int{maxDeliverable - 16, maxDeliverable - 15} {
			s := sender()
			// Built by hand: the encoder refuses fragments over MaxFragment.
			req := make([]byte, PartialMcastHeaderSize+f)
			le.PutUint32(req[0:], uint32(ReqPartialMcast))
			le.PutUint32(req[8:], uint32(len(req)))
			le.PutUint32(req[32:], uint32(f))
			le.PutUint32(req[40:], uint32(f))
			le.PutUint32(req[48:], uint32(PartialFirst))
			resp, err := s.raw(req, 10*time.Second)
			if r, derr := DecodeResponse(resp, ReqPartialMcast); err != nil || derr != nil || r.Error != corosync.OK {
				t.Fatalf("partial of %d: %v %v %v", f, r, err, derr)
			}
			if f == maxDeliverable-16 {
				if e, ok := got(fmt.Sprintf("partial fragment of %d bytes", f)); !ok || e.ID != EvPartialDeliver || len(e.Payload) != f {
					t.Errorf("fragment of %d bytes not delivered", f)
				}
				continue
			}
			if e, err := b.event(3*time.Second, ""); err != nil || e.ID != EvPartialDeliver || len(e.Payload) != f {
				t.Errorf("fragment of %d bytes: receiver got %v, %v; want it delivered", f, e, err)
			}
		}
		// A 3 MiB message in fragments of MaxFragment: FIRST, CONTINUED, LAST.
		s = sender()
		msg := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
		for _, f := range Fragments(len(msg), 0) {
			if code, err := s.partial(f.Type, uint32(len(msg)), msg[f.Off:f.Off+f.Len]); err != nil || code != corosync.OK {
				t.Fatalf("fragment %+v: %v %v", f, code, err)
			}
		}
		var re []byte
		for len(re) < len(msg) {
			e, ok := got("fragment")
			if !ok || e.ID != EvPartialDeliver {
				t.Fatalf("fragment missing after %d bytes", len(re))
			}
			re = append(re, e.Payload...)
		}
		if !bytes.Equal(re, msg) {
			t.Errorf("reassembled message differs")
		}
	})

	t.Run("slow_reader", func(t *testing.T) {
		g := Name("traits-slow")
		slow := dialCPG(t, n2, "slow")
		expect(t, "join slow", slow.join(g, 2301, 0), corosync.OK)
		slow.want(5*time.Second, "", "own confchg", isConfchg(g))
		s := dialCPG(t, n1, "sender")
		expect(t, "join sender", s.join(g, 1301, 0), corosync.OK)
		s.want(5*time.Second, "", "own confchg", isConfchg(g))
		// 4000 messages of 2 KiB: about 8.8 MB of DELIVER events for a
		// reader that reads nothing, eight times its event ring.
		const count, size = 4000, 2048
		msg := make([]byte, size)
		for i := range count {
			le.PutUint32(msg, uint32(i))
			if code, err := s.partial(PartialFirst, size, msg); err != nil || code != corosync.OK {
				t.Fatalf("message %d: %v %v", i, code, err)
			}
		}
		t.Logf("sent %d messages of %d bytes, all answered OK", count, size)
		// The sender's own copies arrive; drain them so its ring never fills.
		time.Sleep(2 * time.Second)
		local := dialCPG(t, n2, "probe")
		if r := local.do(Request{ID: ReqLocalGet}, ""); r.LocalNodeID != 2 {
			t.Errorf("node 2 unresponsive: %+v", r)
		}
		next := uint32(0)
		for next < count {
			e, err := slow.event(10*time.Second, "")
			if err != nil {
				t.Fatalf("slow reader after %d messages: %v", next, err)
			}
			if e.ID != EvPartialDeliver || e.PID != 1301 {
				continue
			}
			if i := le.Uint32(e.Payload); i != next {
				t.Fatalf("slow reader: message %d where %d was expected", i, next)
			}
			next++
		}
		t.Logf("slow reader got all %d messages in order", count)
		if !strings.Contains(n2.Log(), "Q empty") {
			t.Errorf("node 2's log lacks the event queue's \"Q empty\" line")
		}
	})

	t.Run("leave", func(t *testing.T) {
		g := Name("traits-leave")
		a := dialCPG(t, n1, "a")
		b := dialCPG(t, n2, "b")
		expect(t, "join a", a.join(g, 1401, 0), corosync.OK)
		a.want(5*time.Second, "", "own confchg", isConfchg(g))
		expect(t, "join b", b.join(g, 2401, 0), corosync.OK)
		b.want(5*time.Second, "", "own confchg", isConfchg(g))
		a.want(5*time.Second, "", "b's confchg", isConfchg(g))
		expect(t, "leave a", a.do(Request{ID: ReqLeave, Group: g, PID: 1401}, "leave_ok").Error, corosync.OK)
		for _, c := range []*conn{a, b} {
			e := c.want(5*time.Second, "confchg_leave", "leave confchg", isConfchg(g))
			if !slices.Equal(e.Left, []Address{{1, 1401, ReasonLeave}}) || !slices.Equal(e.Members, []Address{{2, 2401, 0}}) {
				t.Errorf("%s: leave confchg %v", c.name, e)
			}
		}
		// The loop-bound bug: the connection stays LEAVE_STARTED.
		expect(t, "leave again", a.code(Request{ID: ReqLeave, Group: g, PID: 1401}), corosync.ErrNotExist)
		expect(t, "rejoin, same group and pid", a.join(g, 1401, 0), corosync.ErrExist)
		expect(t, "rejoin, other pid", a.join(g, 1402, 0), corosync.ErrBusy)
		expect(t, "join another group", a.join("traits-leave2", 1401, 0), corosync.ErrBusy)
		c := dialCPG(t, n1, "c")
		expect(t, "join from a new connection, same pid", c.join(g, 1401, 0), corosync.ErrExist)
		// A left connection still receives the group's messages.
		if code, err := b.partial(PartialFirst, 4, []byte("ping")); err != nil || code != corosync.OK {
			t.Fatal(code, err)
		}
		e := a.want(5*time.Second, "", "delivery after leave", isDeliver(2401))
		t.Logf("left connection still got %v", e)
		if m := b.do(Request{ID: ReqMembership, Group: g}, ""); !slices.Equal(m.Members, []Address{{2, 2401, 0}}) {
			t.Errorf("membership after leave: %v", m.Members)
		}
		// Closing it frees the pid: a new connection can join.
		a.c.Close()
		time.Sleep(500 * time.Millisecond)
		expect(t, "join after the left connection closed", c.join(g, 1401, 0), corosync.OK)
		be := b.want(5*time.Second, "", "rejoin confchg", isConfchg(g))
		if !slices.Equal(be.Joined, []Address{{1, 1401, ReasonJoin}}) {
			t.Errorf("rejoin confchg %v", be)
		}
		// Closing a joined connection: PROCDOWN.
		c.c.Close()
		pe := b.want(5*time.Second, "confchg_procdown", "procdown confchg", isConfchg(g))
		if !slices.Equal(pe.Left, []Address{{1, 1401, ReasonProcDown}}) {
			t.Errorf("close without leave: %v", pe)
		}
	})

	t.Run("virtual_synchrony", func(t *testing.T) {
		virtualSynchrony(t, n1, n2, n3)
	})
}

// maxDeliverable is the largest message whose DELIVER event (184 + n
// bytes) fits a 1 MiB libqb event ring: measured by TestDaemonTraits.
const maxDeliverable = 1048576 - DeliverEventSize

// virtualSynchrony: a receiver and a sender on every node; the senders send
// numbered messages while node 3 is killed. Nodes 1 and 2 must deliver the
// same sequence of messages and confchgs from the point where all
// receivers had joined.
func virtualSynchrony(t *testing.T, nodes ...*corotest.Node) {
	g := Name("traits-vs")
	var recv, send []*conn
	for _, n := range nodes {
		r := dialCPG(t, n, fmt.Sprintf("recv%d", n.ID))
		expect(t, r.name+" join", r.join(g, 100+n.ID, 0), corosync.OK)
		recv = append(recv, r)
	}
	for _, r := range recv {
		r.want(5*time.Second, "", "the last receiver's join", func(e Event) bool {
			return e.ID == EvConfchg && slices.Contains(e.Joined, Address{3, 103, ReasonJoin})
		})
	}
	for _, n := range nodes {
		s := dialCPG(t, n, fmt.Sprintf("send%d", n.ID))
		expect(t, s.name+" join", s.join(g, 200+n.ID, 0), corosync.OK)
		send = append(send, s)
	}
	// Record every receiver's events in the background.
	type rec struct {
		mu  sync.Mutex
		evs []string
	}
	logs := make([]*rec, len(recv))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, r := range recv {
		logs[i] = &rec{}
		wg.Go(func() {
			for ctx.Err() == nil {
				e, err := r.event(300*time.Millisecond, "")
				if err != nil {
					if errors.Is(err, corosync.ErrTimeout) {
						continue
					}
					return // node killed
				}
				var s string
				switch {
				case e.ID == EvTotemConfchg:
					capture(t, "FuzzDecodeEvent", "totem_confchg_nodedown", r.lastRaw, 0)
				case e.ID == EvConfchg && len(e.Left) > 0 && e.Left[0].Reason == ReasonNodeDown:
					capture(t, "FuzzDecodeEvent", "confchg_nodedown", r.lastRaw, 0)
				}
				switch e.ID {
				case EvConfchg:
					s = fmt.Sprintf("confchg m%v l%v j%v", e.Members, e.Left, e.Joined)
				case EvPartialDeliver, EvDeliver:
					s = fmt.Sprintf("msg %d/%d #%d", e.NodeID, e.PID, le.Uint32(e.Payload))
				default:
					continue
				}
				logs[i].mu.Lock()
				logs[i].evs = append(logs[i].evs, s)
				logs[i].mu.Unlock()
			}
		})
	}
	// Senders: numbered messages, as fast as the daemon answers.
	const perSender = 400
	var sg sync.WaitGroup
	sent := make([]int, len(send))
	for i, s := range send {
		sg.Go(func() {
			msg := make([]byte, 64)
			for k := range perSender {
				le.PutUint32(msg, uint32(k))
				code, err := s.partial(PartialFirst, uint32(len(msg)), msg)
				if err != nil || code != corosync.OK {
					t.Logf("%s: message %d: %v %v", s.name, k, code, err)
					return
				}
				sent[i] = k + 1
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node 3")
	sg.Wait()
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()
	t.Logf("sent per node: %v", sent)
	// Compare nodes 1 and 2 from the senders' first join on.
	start := func(evs []string) int {
		for i, s := range evs {
			if strings.HasPrefix(s, "confchg") && strings.Contains(s, "{1 201 join}") {
				return i
			}
		}
		return -1
	}
	a, b := logs[0].evs, logs[1].evs
	ia, ib := start(a), start(b)
	if ia < 0 || ib < 0 {
		t.Fatalf("no join confchg of send1: %d %d", ia, ib)
	}
	a, b = a[ia:], b[ib:]
	if !slices.Equal(a, b) {
		for i := 0; i < min(len(a), len(b)); i++ {
			if a[i] != b[i] {
				t.Fatalf("nodes 1 and 2 differ at event %d of %d/%d: %q vs %q", i, len(a), len(b), a[i], b[i])
			}
		}
		t.Fatalf("nodes 1 and 2: %d vs %d events", len(a), len(b))
	}
	// The killed node's view is a prefix of the survivors'.
	c := logs[2].evs
	if ic := start(c); ic >= 0 {
		c = c[ic:]
		if len(c) > len(a) || !slices.Equal(c, a[:len(c)]) {
			t.Errorf("node 3's %d events are not a prefix of node 1's", len(c))
		}
		t.Logf("node 3 delivered %d events before it died", len(c))
	}
	down := slices.IndexFunc(a, func(s string) bool { return strings.Contains(s, "l[{3 ") })
	if down < 0 {
		t.Fatalf("no NODEDOWN confchg")
	}
	t.Logf("nodes 1 and 2 agree on %d events; the NODEDOWN confchg is event %d: %s", len(a), down, a[down])
	for _, s := range a[down+1:] {
		if strings.HasPrefix(s, "msg 3/") {
			t.Errorf("message from node 3 after its NODEDOWN: %s", s)
		}
	}
	// Messages of each sender are in sending order and complete for the survivors.
	for _, node := range []uint32{1, 2} {
		k := 0
		for _, s := range a {
			var n, p, i int
			if _, err := fmt.Sscanf(s, "msg %d/%d #%d", &n, &p, &i); err == nil && n == int(node) && p == 200+int(node) {
				if i != k {
					t.Errorf("sender %d: message #%d where #%d was expected", node, i, k)
				}
				k = i + 1
			}
		}
		if k != sent[node-1] {
			t.Errorf("sender %d: %d delivered, %d sent", node, k, sent[node-1])
		}
	}
}
