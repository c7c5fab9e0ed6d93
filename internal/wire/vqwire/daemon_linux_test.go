package vqwire

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/corpus"
	"github.com/corosync-go/corosync/transport"
)

// EnvWriteSeeds makes the real-daemon tests write the bytes they capture
// into testdata/fuzz as seeds: VQWIRE_WRITE_SEEDS=1 go test -run TestDaemonTraits.
const EnvWriteSeeds = "VQWIRE_WRITE_SEEDS"

var (
	seedMu sync.Mutex
	seeded = map[string]bool{}
)

// capture logs b as hex and, with VQWIRE_WRITE_SEEDS=1, stores it as a seed
// of fuzz target target (once per name).
func capture(t *testing.T, target, name string, b []byte) {
	t.Helper()
	t.Logf("captured %s/%s (%d bytes): %s", target, name, len(b), hex.EncodeToString(b))
	if os.Getenv(EnvWriteSeeds) == "" {
		return
	}
	seedMu.Lock()
	defer seedMu.Unlock()
	if seeded[target+"/"+name] {
		return
	}
	seeded[target+"/"+name] = true
	if target == "FuzzDecodeResponse" {
		corpus.Write(t, target, name, b, reqOf[name])
		return
	}
	corpus.Write(t, target, name, b)
}

// reqOf names the request a captured response answers, for its seed.
var reqOf = map[string]int32{}

// vq is a raw votequorum connection to one node.
type vq struct {
	t *testing.T
	n *corotest.Node
	c *transport.IPCConn
}

func dialVQ(t *testing.T, n *corotest.Node) *vq {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "votequorum", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		t.Fatalf("dial votequorum on node %d: %v", n.ID, err)
	}
	t.Cleanup(func() { c.Close() })
	return &vq{t: t, n: n, c: c}
}

// raw sends request bytes and returns a copy of the raw answer.
func (v *vq) raw(req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := v.c.Request(ctx, req, nil)
	return slices.Clone(resp), err
}

// do encodes r, sends it, captures the answer as seed name (if not ""), and
// decodes it.
func (v *vq) do(r Request, name string) Response {
	v.t.Helper()
	b, err := AppendRequest(nil, r)
	if err != nil {
		v.t.Fatalf("encode %s: %v", RequestName(r.ID), err)
	}
	resp, err := v.raw(b)
	if err != nil {
		v.t.Fatalf("%s on node %d: %v", RequestName(r.ID), v.n.ID, err)
	}
	if name != "" {
		reqOf[name] = r.ID
		capture(v.t, "FuzzDecodeResponse", name, resp)
	}
	res, err := DecodeResponse(resp, r.ID)
	if err != nil {
		v.t.Fatalf("decode %s answer %x: %v", RequestName(r.ID), resp, err)
	}
	return res
}

// code sends r and returns the daemon's error code.
func (v *vq) code(r Request) corosync.Error {
	v.t.Helper()
	return v.do(r, "").Error
}

func (v *vq) info(node uint32) Info {
	v.t.Helper()
	r := v.do(Request{ID: ReqGetInfo, NodeID: node}, "")
	if r.Error != corosync.OK {
		v.t.Fatalf("getinfo(%d): %v", node, r.Error)
	}
	return r.Info
}

// event reads the next event within d, captured as seed name (if not "").
func (v *vq) event(d time.Duration, name string) (Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b, err := v.c.ReadEvent(ctx)
	if err != nil {
		return Event{}, err
	}
	if name != "" {
		capture(v.t, "FuzzDecodeEvent", name, b)
	}
	return DecodeEvent(b)
}

func (v *vq) mustEvent(name string, id int32) Event {
	v.t.Helper()
	e, err := v.event(10*time.Second, name)
	if err != nil {
		v.t.Fatalf("waiting for %s: %v", EventName(id), err)
	}
	if e.ID != id {
		v.t.Fatalf("got %s %+v, want %s", EventName(e.ID), e, EventName(id))
	}
	return e
}

// drain discards events until none arrives for 300ms.
func (v *vq) drain() {
	v.t.Helper()
	for {
		e, err := v.event(300*time.Millisecond, "")
		if errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err != nil {
			v.t.Fatal(err)
		}
		v.t.Logf("drained %s %+v", EventName(e.ID), e)
	}
}

// noEvent checks that nothing arrives within d.
func (v *vq) noEvent(d time.Duration) {
	v.t.Helper()
	if e, err := v.event(d, ""); err == nil {
		v.t.Fatalf("unexpected %s %+v", EventName(e.ID), e)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		v.t.Fatal(err)
	}
}

func expect(t *testing.T, what string, got, want corosync.Error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got.Name(), want.Name())
	} else {
		t.Logf("%s -> %s", what, got.Name())
	}
}

func waitInfo(t *testing.T, v *vq, node uint32, ok func(Info) bool) Info {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		i := v.info(node)
		if ok(i) {
			return i
		}
		if time.Now().After(deadline) {
			t.Fatalf("getinfo(%d) never matched: %v", node, i)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func nodeSet(ns []Node) map[uint32]NodeState {
	m := map[uint32]NodeState{}
	for _, n := range ns {
		m[n.NodeID] = n.State
	}
	return m
}

var flagsLine = regexp.MustCompile(`(?m)^Flags:\s*(.*?)\s*$`)

// TestDaemonTraits asserts the behaviour of corosync 3.1.7's votequorum
// service that SPEC.md records, on a real 3-node cluster, so a change in the
// daemon shows up here.
func TestDaemonTraits(t *testing.T) {
	c := corotest.Start(t, 3, corotest.Options{})
	n1 := c.Node(1)
	a := dialVQ(t, n1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// getinfo: node id 0 is this node.
	var local Info
	t.Run("getinfo", func(t *testing.T) {
		a.t = t
		local = a.do(Request{ID: ReqGetInfo, NodeID: 0}, "getinfo_local").Info
		t.Logf("getinfo(0) = %v", local)
		want := Info{NodeID: 1, State: NodeStateMember, NodeVotes: 1, NodeExpectedVotes: 3, HighestExpected: 3, TotalVotes: 3, Quorum: 2, Flags: FlagQuorate}
		if local != want {
			t.Errorf("getinfo(0) = %v, want %v", local, want)
		}
		if one := a.info(1); one != local {
			t.Errorf("getinfo(1) = %v differs from getinfo(0) = %v", one, local)
		}
		if two := a.do(Request{ID: ReqGetInfo, NodeID: 2}, "getinfo_node2").Info; two.NodeID != 2 || two.State != NodeStateMember {
			t.Errorf("getinfo(2) = %v", two)
		}
		// corosync-quorumtool prints the same flag names.
		out, err := n1.Exec(ctx, "corosync-quorumtool", "-s")
		if err != nil {
			t.Fatal(err, string(out))
		}
		if m := flagsLine.FindStringSubmatch(string(out)); m == nil || m[1] != local.Flags.String() {
			t.Errorf("quorumtool flags %q, ours %q", m, local.Flags.String())
		}
		// An unknown node: NOT_EXIST in a full 320-byte reply.
		resp, err := a.raw(mustReq(t, Request{ID: ReqGetInfo, NodeID: 99}))
		if err != nil {
			t.Fatal(err)
		}
		reqOf["getinfo_unknown"] = ReqGetInfo
		capture(t, "FuzzDecodeResponse", "getinfo_unknown", resp)
		r, err := DecodeResponse(resp, ReqGetInfo)
		if err != nil || r.ID != ResGetInfo || r.Error != corosync.ErrNotExist || len(resp) != GetInfoResponseSize {
			t.Errorf("getinfo(99): %d bytes %+v %v", len(resp), r, err)
		}
		expect(t, "getinfo(0xffffffff)", a.code(Request{ID: ReqGetInfo, NodeID: 0xffffffff}), corosync.ErrNotExist)
	})

	t.Run("reject", func(t *testing.T) {
		a.t = t
		for _, id := range []int32{10, 11, -1, 1 << 30} {
			req := make([]byte, 16)
			le.PutUint32(req[0:], uint32(id))
			le.PutUint32(req[8:], 16)
			resp, err := a.raw(req)
			if err != nil {
				t.Fatal(err)
			}
			if id == 10 {
				reqOf["reject"] = id
				capture(t, "FuzzDecodeResponse", "reject", resp)
			}
			r, err := DecodeResponse(resp, id)
			if err != nil || len(resp) != StatusResponseSize || r.ID != ResStatus || r.Error != corosync.ErrInvalidParam {
				t.Errorf("request id %d: %x %+v %v", id, resp, r, err)
			}
		}
	})

	t.Run("track", func(t *testing.T) {
		a.t = t
		expect(t, "trackstop while not tracking", a.do(Request{ID: ReqTrackStop}, "trackstop_notexist").Error, corosync.ErrNotExist)
		expect(t, "trackstart(CHANGES)", a.do(Request{ID: ReqTrackStart, Context: 0x1111, TrackFlags: TrackChanges}, "status_ok").Error, corosync.OK)
		nl := a.mustEvent("nodelist3", EvNodelist)
		q := a.mustEvent("quorum3", EvQuorum)
		t.Logf("snapshot: %+v then %+v", nl, q)
		if nl.Context != 0x1111 || q.Context != 0x1111 || !q.Quorate || len(nl.Members) != 3 || nl.Ring.NodeID != 1 {
			t.Errorf("snapshot: %+v %+v", nl, q)
		}
		if got := nodeSet(q.Nodes); len(got) != 3 || got[1] != NodeStateMember || got[2] != NodeStateMember || got[3] != NodeStateMember {
			t.Errorf("quorum node list %v", q.Nodes)
		}
		// A second trackstart: EXIST, but a snapshot with the new context is sent first.
		expect(t, "second trackstart", a.do(Request{ID: ReqTrackStart, Context: 0x2222, TrackFlags: TrackCurrent | TrackChanges}, "status_exist").Error, corosync.ErrExist)
		nl2 := a.mustEvent("", EvNodelist)
		q2 := a.mustEvent("", EvQuorum)
		if nl2.Context != 0x2222 || q2.Context != 0x2222 {
			t.Errorf("second snapshot contexts %#x %#x, want 0x2222", nl2.Context, q2.Context)
		}
		a.noEvent(300 * time.Millisecond)
	})

	t.Run("setexpected", func(t *testing.T) {
		a.t = t
		expect(t, "setexpected(0)", a.rawExpected(0), corosync.ErrInvalidParam)
		expect(t, "setexpected(2) below total votes 3", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 2}), corosync.ErrInvalidParam)
		expect(t, "setexpected(6) would lose quorum", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 6}), corosync.ErrInvalidParam)
		expect(t, "setexpected(4)", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 4}), corosync.OK)
		// Later events carry the context of the first trackstart.
		e := a.mustEvent("expectedvotes", EvExpectedVotes)
		if e.ExpectedVotes != 4 || e.Context != 0x1111 {
			t.Errorf("expectedvotes event %+v", e)
		}
		if i := a.info(0); i.NodeExpectedVotes != 4 || i.HighestExpected != 4 || i.Quorum != 3 {
			t.Errorf("after setexpected(4): %v", i)
		}
		// Setting the same value again still notifies.
		expect(t, "setexpected(3)", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 3}), corosync.OK)
		a.mustEvent("", EvExpectedVotes)
		expect(t, "setexpected(3) again", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 3}), corosync.OK)
		if e := a.mustEvent("", EvExpectedVotes); e.ExpectedVotes != 3 {
			t.Errorf("expectedvotes event %+v", e)
		}
		// (0xffffffff+2)/2 overflows to 0 in the daemon's quorum arithmetic:
		// accepted, and the cluster stays quorate.
		expect(t, "setexpected(0xffffffff)", a.rawExpected(0xffffffff), corosync.OK)
		if e := a.mustEvent("", EvExpectedVotes); e.ExpectedVotes != 0xffffffff {
			t.Errorf("expectedvotes event %+v", e)
		}
		if i := a.info(0); i.NodeExpectedVotes != 0xffffffff || i.Quorum != 2 || !i.Flags.Has(FlagQuorate) {
			t.Errorf("after setexpected(0xffffffff): %v", i)
		}
		expect(t, "setexpected(3) back", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 3}), corosync.OK)
		a.mustEvent("", EvExpectedVotes)
		a.noEvent(300 * time.Millisecond)
	})

	t.Run("setvotes", func(t *testing.T) {
		a.t = t
		expect(t, "setvotes(node 99)", a.code(Request{ID: ReqSetVotes, NodeID: 99, Votes: 1}), corosync.ErrNameNotFound)
		expect(t, "setvotes(node 2, 1 vote)", a.code(Request{ID: ReqSetVotes, NodeID: 2, Votes: 1}), corosync.OK)
		// Node id 0 is the quorum device here, not this node.
		expect(t, "setvotes(node 0, 2 votes)", a.code(Request{ID: ReqSetVotes, NodeID: 0, Votes: 2}), corosync.OK)
		i := waitInfo(t, a, 0, func(i Info) bool { return i.QdeviceVotes == 2 })
		if i.NodeVotes != 1 || i.TotalVotes != 3 {
			t.Errorf("setvotes(0) changed this node: %v", i)
		}
		// Total votes (3 nodes + 2 device votes) now exceed expected votes:
		// the daemon raises expected votes and notifies.
		if e := a.mustEvent("", EvExpectedVotes); e.ExpectedVotes != 5 {
			t.Errorf("after setvotes(0, 2): %+v", e)
		}
		expect(t, "setvotes(node 0, 0 votes)", a.code(Request{ID: ReqSetVotes, NodeID: 0, Votes: 0}), corosync.OK)
		waitInfo(t, a, 0, func(i Info) bool { return i.QdeviceVotes == 0 })
		a.noEvent(300 * time.Millisecond)
		expect(t, "setexpected(3) back", a.code(Request{ID: ReqSetExpected, ExpectedVotes: 3}), corosync.OK)
		a.mustEvent("", EvExpectedVotes)
		a.noEvent(300 * time.Millisecond)
	})

	t.Run("dead-nodes-kept-unsorted", func(t *testing.T) {
		a.t = t
		if err := c.Node(3).Stop(); err != nil {
			t.Fatal(err)
		}
		nl := a.mustEvent("nodelist2", EvNodelist)
		q := a.mustEvent("quorum_dead", EvQuorum)
		t.Logf("after node 3 left: %+v then %+v", nl, q)
		if !slices.Equal(slices.Sorted(slices.Values(nl.Members)), []uint32{1, 2}) {
			t.Errorf("nodelist members %v", nl.Members)
		}
		got := nodeSet(q.Nodes)
		if len(q.Nodes) != 3 || got[3] != NodeStateDead || got[1] != NodeStateMember || !q.Quorate {
			t.Errorf("quorum node list %v (quorate %v): want node 3 kept as dead", q.Nodes, q.Quorate)
		}
		ids := []uint32{}
		for _, n := range q.Nodes {
			ids = append(ids, n.NodeID)
		}
		if slices.IsSorted(ids) {
			t.Errorf("quorum node list %v is sorted: the daemon's insertion quirk changed", ids)
		}
		if i := a.info(3); i.State != NodeStateDead {
			t.Errorf("getinfo(3) of a dead node: %v", i)
		}
	})

	t.Run("qdevice", func(t *testing.T) {
		a.t = t
		b := dialVQ(t, n1)
		b.t = t
		expect(t, "poll while unregistered", a.code(Request{ID: ReqQdevicePoll, Name: "vqtest", CastVote: true}), corosync.ErrNotExist)
		expect(t, "unregister while unregistered", a.code(Request{ID: ReqQdeviceUnregister, Name: "vqtest"}), corosync.ErrNotExist)
		expect(t, "master_wins while unregistered", a.code(Request{ID: ReqQdeviceMasterWins, Name: "vqtest", Allow: true}), corosync.ErrNotExist)
		expect(t, "update while unregistered", a.code(Request{ID: ReqQdeviceUpdate, Name: "vqtest", NewName: "x"}), corosync.ErrNotExist)

		start := time.Now()
		expect(t, "register", a.code(Request{ID: ReqQdeviceRegister, Name: "vqtest"}), corosync.OK)
		regTook := time.Since(start)
		start = time.Now()
		a.info(0)
		t.Logf("register answered after %v (a getinfo takes %v)", regTook, time.Since(start))
		expect(t, "register again, same name, other connection", b.code(Request{ID: ReqQdeviceRegister, Name: "vqtest"}), corosync.OK)
		expect(t, "register another name", b.code(Request{ID: ReqQdeviceRegister, Name: "other"}), corosync.ErrExist)
		i := a.do(Request{ID: ReqGetInfo}, "getinfo_qdevice").Info
		if !i.Flags.Has(FlagQdevice) || i.QdeviceName != "vqtest" || i.Flags.Has(FlagQdeviceAlive) {
			t.Errorf("after register: %v", i)
		}
		if i2 := b.info(2); i2.QdeviceName != "vqtest" || i2.Flags.Has(FlagQdevice) {
			t.Errorf("getinfo(2) after node 1 registered: %v", i2)
		}
		// The quorum notification now ends with the device: node 0, state 0.
		expect(t, "trackstart(CURRENT)", b.code(Request{ID: ReqTrackStart, Context: 7, TrackFlags: TrackCurrent}), corosync.OK)
		nl := b.mustEvent("nodelist_qdevice", EvNodelist)
		q := b.mustEvent("quorum_qdevice", EvQuorum)
		if len(q.Nodes) == 0 || q.Nodes[len(q.Nodes)-1] != (Node{NodeID: 0, State: 0}) || slices.Contains(nl.Members, 0) {
			t.Errorf("snapshot with a device: %+v %+v", nl, q)
		}
		expect(t, "trackstop after CURRENT only", b.code(Request{ID: ReqTrackStop}), corosync.ErrNotExist)

		stale := nl.Ring
		stale.Seq--
		expect(t, "poll with a stale ring id", a.code(Request{ID: ReqQdevicePoll, Name: "vqtest", CastVote: true, Ring: stale}), corosync.ErrMessageError)
		expect(t, "poll with another name", a.code(Request{ID: ReqQdevicePoll, Name: "other", CastVote: true, Ring: nl.Ring}), corosync.ErrInvalidParam)
		expect(t, "poll", a.code(Request{ID: ReqQdevicePoll, Name: "vqtest", CastVote: true, Ring: nl.Ring}), corosync.OK)
		waitInfo(t, a, 0, func(i Info) bool { return i.Flags.Has(FlagQdeviceAlive | FlagQdeviceCastVote) })
		expect(t, "master_wins with another name", a.code(Request{ID: ReqQdeviceMasterWins, Name: "other", Allow: true}), corosync.ErrInvalidParam)
		expect(t, "master_wins", a.code(Request{ID: ReqQdeviceMasterWins, Name: "vqtest", Allow: true}), corosync.OK)
		i = waitInfo(t, a, 0, func(i Info) bool { return i.Flags.Has(FlagQdeviceMasterWins) })
		t.Logf("alive device: %v", i)
		expect(t, "update from another name", a.code(Request{ID: ReqQdeviceUpdate, Name: "other", NewName: "x"}), corosync.ErrInvalidParam)
		expect(t, "update", a.code(Request{ID: ReqQdeviceUpdate, Name: "vqtest", NewName: "vqtest2"}), corosync.OK)
		waitInfo(t, a, 0, func(i Info) bool { return i.QdeviceName == "vqtest2" })
		expect(t, "unregister another name", a.code(Request{ID: ReqQdeviceUnregister, Name: "vqtest"}), corosync.ErrInvalidParam)
		expect(t, "unregister from the other connection", b.code(Request{ID: ReqQdeviceUnregister, Name: "vqtest2"}), corosync.OK)
		expect(t, "unregister again", a.code(Request{ID: ReqQdeviceUnregister, Name: "vqtest2"}), corosync.ErrNotExist)
		i = waitInfo(t, a, 0, func(i Info) bool { return i.QdeviceName == "" })
		if i.Flags&(FlagQdevice|FlagQdeviceAlive|FlagQdeviceCastVote|FlagQdeviceMasterWins) != 0 {
			t.Errorf("after unregister: %v", i)
		}
		// The longest name the encoder allows (254 bytes) works.
		long := strings.Repeat("n", MaxNameLen)
		expect(t, "register a 254-byte name", a.code(Request{ID: ReqQdeviceRegister, Name: long}), corosync.OK)
		waitInfo(t, a, 0, func(i Info) bool { return i.QdeviceName == long })
		expect(t, "unregister it", a.code(Request{ID: ReqQdeviceUnregister, Name: long}), corosync.OK)
		waitInfo(t, a, 0, func(i Info) bool { return i.QdeviceName == "" })
		a.drain()
	})

	// quorum is a uint8 in the daemon: on an inquorate node, setexpected(510)
	// is accepted, quorum becomes (510+2)/2 = 256 = 0, and the node turns
	// quorate alone. The encoder refuses such values.
	t.Run("quorum-wraps", func(t *testing.T) {
		a.t = t
		if err := c.Node(2).Stop(); err != nil {
			t.Fatal(err)
		}
		a.mustEvent("", EvNodelist)
		if q := a.mustEvent("", EvQuorum); q.Quorate {
			t.Fatalf("node 1 alone still quorate: %+v", q)
		}
		i := a.info(0)
		t.Logf("alone: %v", i)
		if _, err := AppendRequest(nil, Request{ID: ReqSetExpected, ExpectedVotes: 510}); !errors.Is(err, corosync.ErrInvalidParam) {
			t.Errorf("encoder accepted setexpected(510): %v", err)
		}
		expect(t, "setexpected(510) while inquorate", a.rawExpected(510), corosync.OK)
		a.mustEvent("", EvExpectedVotes)
		q := a.mustEvent("", EvQuorum)
		i = a.info(0)
		t.Logf("after setexpected(510): quorate %v, %v", q.Quorate, i)
		if !q.Quorate || i.Quorum != 0 || i.NodeExpectedVotes != 510 {
			t.Errorf("quorum did not wrap: %v", i)
		}
	})
	a.t = t
}

// rawExpected sends a setexpected request the encoder may refuse and
// returns the daemon's code.
func (v *vq) rawExpected(n uint32) corosync.Error {
	v.t.Helper()
	b := mustReq(v.t, Request{ID: ReqSetExpected, ExpectedVotes: 3})
	le.PutUint32(b[16:], n)
	resp, err := v.raw(b)
	if err != nil {
		v.t.Fatal(err)
	}
	r, err := DecodeResponse(resp, ReqSetExpected)
	if err != nil {
		v.t.Fatal(err)
	}
	return r.Error
}

func mustReq(t *testing.T, r Request) []byte {
	t.Helper()
	b, err := AppendRequest(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDaemonTraitsUnterminatedName confirms why the encoders refuse long
// names: a qdevice_register whose 255-byte name field has no NUL makes
// corosync 3.1.7 (Debian, built with asserts) abort.
func TestDaemonTraitsUnterminatedName(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{})
	n := c.Node(1)
	v := dialVQ(t, n)
	if _, err := AppendRequest(nil, Request{ID: ReqQdeviceRegister, Name: strings.Repeat("x", NameFieldSize)}); !errors.Is(err, corosync.ErrNameTooLong) {
		t.Fatalf("encoder: %v", err)
	}
	req := mustReq(t, Request{ID: ReqQdeviceRegister, Name: "x"})
	for i := 16; i < 16+NameFieldSize; i++ {
		req[i] = 'x' // byte 271 (padding) stays 0: strlen is 255
	}
	_, err := v.raw(req)
	t.Logf("register with an unterminated name: %v", err)
	deadline := time.Now().Add(10 * time.Second)
	for n.Running() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n.Running() {
		t.Fatalf("corosync survived an unterminated qdevice name (answer error %v)", err)
	}
	log := n.Log()
	if i := strings.Index(log, "Assertion"); i >= 0 {
		t.Logf("daemon log: %s", strings.SplitN(log[i:], "\n", 2)[0])
	}
	out, _ := os.ReadFile(filepath.Join(n.Dir, "stdout"))
	t.Logf("daemon stdout/stderr: %s", strings.TrimSpace(string(out)))
	if err == nil || !errors.Is(err, transport.ErrDisconnected) {
		t.Errorf("request error %v, want a lost connection", err)
	}
}
