package cfgwire

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/corpus"
	"github.com/corosync-go/corosync/transport"
)

// Real-daemon measurements behind SPEC.md. Run as root:
//
//	go test -run TestDaemonTraits -v ./internal/wire/cfgwire/
//
// With CFGWIRE_CAPTURE=1 the captured messages are (re)written as fuzz seeds
// under testdata/fuzz.

// session is one raw cfg connection to a node's daemon.
type session struct {
	t    *testing.T
	name string
	c    *transport.IPCConn
}

func dialCfg(t *testing.T, n *corotest.Node, name string) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "cfg", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		t.Fatalf("dial cfg on node %d: %v", n.ID, err)
	}
	t.Cleanup(func() { c.Close() })
	return &session{t: t, name: name, c: c}
}

// raw sends r and returns the raw reply.
func (s *session) raw(ctx context.Context, r Request) ([]byte, error) {
	b, err := AppendRequest(nil, r)
	if err != nil {
		s.t.Fatalf("encode %+v: %v", r, err)
	}
	out, err := s.c.Request(ctx, b, nil)
	return append([]byte(nil), out...), err
}

// do sends r, decodes the reply, and optionally records both as seeds.
func (s *session) do(r Request, seed string) (Response, []byte) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := s.raw(ctx, r)
	if err != nil {
		s.t.Fatalf("%s: request %d: %v", s.name, r.ID, err)
	}
	resp, err := DecodeResponse(b, r.ID)
	if err != nil {
		s.t.Fatalf("%s: decode reply to %d: %v\n%s", s.name, r.ID, err, hex.Dump(b))
	}
	if seed != "" {
		req, _ := AppendRequest(nil, r)
		writeSeed(s.t, "FuzzDecodeRequest", seed, req)
		writeSeed(s.t, "FuzzDecodeResponse", seed, b, r.ID)
	}
	return resp, b
}

func (s *session) event(timeout time.Duration) (Event, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b, err := s.c.ReadEvent(ctx)
	if err != nil {
		return Event{}, nil, err
	}
	b = append([]byte(nil), b...)
	e, err := DecodeEvent(b)
	return e, b, err
}

// writeSeed writes a fuzz corpus file when CFGWIRE_CAPTURE=1.
func writeSeed(t *testing.T, target, name string, b []byte, req ...int32) {
	if os.Getenv("CFGWIRE_CAPTURE") != "1" {
		return
	}
	corpus.Write(t, target, name, b, req...)
}

func expectCode(t *testing.T, what string, r Response, id int32, code corosync.Error) {
	t.Helper()
	if r.ID != id || r.Error != code || r.Reject {
		t.Errorf("%s: got id %d %v (reject %v), want id %d %v", what, r.ID, r.Error, r.Reject, id, code)
	}
}

func TestDaemonTraits(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	n1 := cl.Node(1)
	s := dialCfg(t, n1, "node1")

	t.Run("basic answers", func(t *testing.T) {
		s.t = t
		r, _ := s.do(Request{ID: ReqLocalGet}, "local_get")
		if r.LocalNodeID != 1 {
			t.Errorf("local_get: %d", r.LocalNodeID)
		}
		r, _ = s.do(Request{ID: ReqRingReenable}, "ringreenable")
		expectCode(t, "ringreenable", r, ResRingReenable, corosync.ErrNotSupported)
		r, _ = s.do(Request{ID: ReqReopenLogFiles}, "reopen_log_files")
		expectCode(t, "reopen_log_files", r, ResReopenLogFiles, corosync.OK)
		r, _ = s.do(Request{ID: ReqReplyToShutdown, Reply: ShutdownYes}, "replytoshutdown-access")
		expectCode(t, "replytoshutdown with nothing pending", r, ResReplyToShutdown, corosync.ErrAccess)
		r, _ = s.do(Request{ID: ReqKillNode, NodeID: 9, Reason: "no such node"}, "killnode-notexist")
		expectCode(t, "killnode of an unknown node", r, ResKillNode, corosync.ErrNotExist)
		r, _ = s.do(Request{ID: ReqTrackStart}, "trackstart")
		expectCode(t, "trackstart", r, ResTrackStart, corosync.OK)
		r, _ = s.do(Request{ID: ReqTrackStart}, "")
		expectCode(t, "trackstart again", r, ResTrackStart, corosync.OK)
		r, _ = s.do(Request{ID: ReqTrackStop}, "trackstop")
		expectCode(t, "trackstop", r, ResTrackStop, corosync.OK)

		// An unknown request id: the generic reject.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := make([]byte, 16)
		le.PutUint32(req[0:], 12)
		le.PutUint32(req[8:], 16)
		b, err := s.c.Request(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "FuzzDecodeRequest", "unknown12", req)
		writeSeed(t, "FuzzDecodeResponse", "reject", b, ReqLocalGet)
		r, err = DecodeResponse(b, ReqLocalGet)
		if err != nil || !r.Reject || r.Error != corosync.ErrInvalidParam || len(b) != 24 {
			t.Errorf("id 12: %+v %v (%d bytes)", r, err, len(b))
		}
	})

	t.Run("node status and addresses, healthy", func(t *testing.T) {
		s.t = t
		for _, id := range []uint32{1, 2, 3} {
			r, b := s.do(Request{ID: ReqNodeStatusGet, NodeID: id, Version: 1}, fmt.Sprintf("nodestatus-healthy-%d", id))
			if r.Error != corosync.OK || len(b) != 4200 {
				t.Fatalf("node %d: %v, %d bytes", id, r.Error, len(b))
			}
			ns := r.NodeStatus
			if ns.NodeID != id || !ns.Reachable || ns.Remote || ns.External {
				t.Errorf("node %d: %+v", id, ns)
			}
			if ns.OnwireMin != 0 || ns.OnwireMax != 0 || ns.OnwireVer != 0 {
				t.Errorf("node %d: onwire %d/%d/%d, want 0 on Debian 12", id, ns.OnwireMin, ns.OnwireMax, ns.OnwireVer)
			}
			l := ns.Links[0]
			wantDst := fmt.Sprintf("192.0.2.%d", id)
			if !l.Enabled || !l.Connected || l.Src != "192.0.2.1" || l.Dst != wantDst {
				t.Errorf("node %d link 0: %+v", id, l)
			}
			if id == 1 && l.MTU != 65535 {
				t.Errorf("local node link 0 mtu %d, want 65535 (knet loopback link)", l.MTU)
			}
			for i := 1; i < MaxLinks; i++ {
				if ns.Links[i] != (LinkStatus{}) {
					t.Errorf("node %d link %d not zero: %+v", id, i, ns.Links[i])
				}
			}
			r, _ = s.do(Request{ID: ReqGetNodeAddrs, NodeID: id}, fmt.Sprintf("addrs-%d", id))
			if r.Error != corosync.OK || r.Addrs.Family != AFInet || len(r.Addrs.Addrs) != 1 || r.Addrs.Addrs[0] != netip.MustParseAddr(wantDst) {
				t.Errorf("addrs of %d: %+v %+v", id, r, r.Addrs)
			}
		}
		r, _ := s.do(Request{ID: ReqGetNodeAddrs, NodeID: 0}, "addrs-0")
		if r.Error != corosync.OK || r.Addrs.Addrs[0] != netip.MustParseAddr("192.0.2.1") {
			t.Errorf("addrs of node 0 (local): %+v", r)
		}
		r, b := s.do(Request{ID: ReqGetNodeAddrs, NodeID: 9}, "addrs-notexist")
		expectCode(t, "addrs of an unknown node", r, ResGetNodeAddrs, corosync.ErrNotExist)
		if len(b) != 32 {
			t.Errorf("addrs of an unknown node: %d bytes, want 32", len(b))
		}
		for _, id := range []uint32{0, 9} {
			r, b := s.do(Request{ID: ReqNodeStatusGet, NodeID: id, Version: 1}, fmt.Sprintf("nodestatus-unknown-%d", id))
			expectCode(t, fmt.Sprintf("node status of %d", id), r, ResNodeStatusGet, corosync.ErrFailedOperation)
			if len(b) != 32 {
				t.Errorf("node status of %d: %d bytes, want 32", id, len(b))
			}
		}
		// Version 2 of a known node: NOT_SUPPORTED; of an unknown node the
		// node lookup fails first. Our encoder refuses version 2, so build it.
		for _, c := range []struct {
			id   uint32
			code corosync.Error
		}{{2, corosync.ErrNotSupported}, {9, corosync.ErrFailedOperation}} {
			req, _ := AppendRequest(nil, Request{ID: ReqNodeStatusGet, NodeID: c.id, Version: 1})
			le.PutUint32(req[24:], 2)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			b, err := s.c.Request(ctx, req, nil)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			r, err := DecodeResponse(b, ReqNodeStatusGet)
			if err != nil || r.Error != c.code || len(b) != 32 {
				t.Errorf("version 2 for node %d: %+v %v (%d bytes), want %v", c.id, r, err, len(b), c.code)
			}
			if c.id == 2 {
				writeSeed(t, "FuzzDecodeRequest", "nodestatus-v2", req)
				writeSeed(t, "FuzzDecodeResponse", "nodestatus-v2", b, ReqNodeStatusGet)
			}
		}
	})

	t.Run("ring status on knet", func(t *testing.T) {
		s.t = t
		r, b := s.do(Request{ID: ReqRingStatusGet}, "ringstatus-healthy")
		if r.Error != corosync.OK || len(b) != 10272 || len(r.Rings) != 1 {
			t.Fatalf("ring status: %+v (%d bytes)", r, len(b))
		}
		if r.Rings[0].Name != "0 192.0.2.1" || r.Rings[0].Status != "n33" {
			t.Errorf("ring status: %+v, want name %q status %q", r.Rings[0], "0 192.0.2.1", "n33")
		}
	})

	t.Run("shutdown replies are held back", func(t *testing.T) {
		s.t = t
		tr := dialCfg(t, n1, "tracker")
		tr.do(Request{ID: ReqTrackStart}, "")
		type result struct {
			r   Response
			b   []byte
			err error
			at  time.Duration
		}
		start := time.Now()
		done := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, err := s.raw(ctx, Request{ID: ReqTryShutdown, Flags: ShutdownRequest})
			r, derr := DecodeResponse(b, ReqTryShutdown)
			if err == nil {
				err = derr
			}
			done <- result{r, b, err, time.Since(start)}
		}()
		e, eb, err := tr.event(10 * time.Second)
		if err != nil || e.ID != EvTestShutdown || e.Error != corosync.OK || e.Flags != ShutdownRequest {
			t.Fatalf("tracker event: %+v %v", e, err)
		}
		writeSeed(t, "FuzzDecodeEvent", "testshutdown", eb)
		// A second shutdown while one is pending: EXIST at once.
		other := dialCfg(t, n1, "other")
		r, _ := other.do(Request{ID: ReqTryShutdown, Flags: ShutdownRequest}, "tryshutdown-exist")
		expectCode(t, "second tryshutdown", r, ResTryShutdown, corosync.ErrExist)
		select {
		case res := <-done:
			t.Fatalf("tryshutdown answered before the tracker voted: %+v", res)
		case <-time.After(500 * time.Millisecond):
		}
		r, _ = tr.do(Request{ID: ReqReplyToShutdown, Reply: ShutdownNo}, "replytoshutdown-no")
		expectCode(t, "reply no", r, ResReplyToShutdown, corosync.OK)
		res := <-done
		if res.err != nil || res.r.ID != ResTryShutdown || res.r.Error != corosync.ErrBusy {
			t.Fatalf("tryshutdown after NO: %+v", res)
		}
		req, _ := AppendRequest(nil, Request{ID: ReqTryShutdown})
		writeSeed(t, "FuzzDecodeRequest", "tryshutdown", req)
		writeSeed(t, "FuzzDecodeResponse", "tryshutdown-busy", res.b, ReqTryShutdown)
		t.Logf("tryshutdown answered BUSY %v after the request, right after the NO", res.at)

		// Nobody answers: the reply waits for cfg.shutdown_timeout.
		if err := n1.Cmap(context.Background(), "-s", "cfg.shutdown_timeout", "u32", "1500"); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, err := other.raw(ctx, Request{ID: ReqTryShutdown, Flags: ShutdownRequest})
			r, derr := DecodeResponse(b, ReqTryShutdown)
			if err == nil {
				err = derr
			}
			done <- result{r, b, err, time.Since(start)}
		}()
		if e, _, err := tr.event(10 * time.Second); err != nil || e.Error != corosync.OK {
			t.Fatalf("tracker event 2: %+v %v", e, err)
		}
		res = <-done
		if res.err != nil || res.r.Error != corosync.ErrBusy || res.at < 1400*time.Millisecond {
			t.Fatalf("tryshutdown without answers: %+v", res)
		}
		t.Logf("unanswered tryshutdown: BUSY after %v (cfg.shutdown_timeout 1500 ms)", res.at)
		// The plain tracker (never called tryshutdown itself) gets no
		// TIMEOUT notice.
		if e, _, err := tr.event(500 * time.Millisecond); err == nil {
			t.Errorf("plain tracker got a second event: %+v", e)
		}
	})

	t.Run("any connection votes, votes not de-duplicated", func(t *testing.T) {
		s.t = t
		t1 := dialCfg(t, n1, "t1")
		t2 := dialCfg(t, n1, "t2")
		t1.do(Request{ID: ReqTrackStart}, "")
		t2.do(Request{ID: ReqTrackStart}, "")
		// t1 asks first (t2 answers NO) so that t1 has issued a tryshutdown:
		// only such trackers receive the TIMEOUT notice later.
		done := make(chan Response, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, _ := t1.raw(ctx, Request{ID: ReqTryShutdown})
			r, _ := DecodeResponse(b, ReqTryShutdown)
			done <- r
		}()
		if e, _, err := t2.event(10 * time.Second); err != nil || e.ID != EvTestShutdown {
			t.Fatalf("t2 event: %+v %v", e, err)
		}
		t2.do(Request{ID: ReqReplyToShutdown, Reply: ShutdownNo}, "")
		if r := <-done; r.Error != corosync.ErrBusy {
			t.Fatalf("t1 tryshutdown: %+v", r)
		}

		// Now R asks; two trackers are expected. A connection that is no
		// tracker votes NO twice: both count, the decision is immediate.
		if err := n1.Cmap(context.Background(), "-s", "cfg.shutdown_timeout", "u32", "20000"); err != nil {
			t.Fatal(err)
		}
		rq := dialCfg(t, n1, "requester")
		x := dialCfg(t, n1, "stranger")
		start := time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, _ := rq.raw(ctx, Request{ID: ReqTryShutdown})
			r, _ := DecodeResponse(b, ReqTryShutdown)
			done <- r
		}()
		for _, tc := range []*session{t1, t2} {
			if e, _, err := tc.event(10 * time.Second); err != nil || e.ID != EvTestShutdown || e.Error != corosync.OK {
				t.Fatalf("%s event: %+v %v", tc.name, e, err)
			}
		}
		r, _ := x.do(Request{ID: ReqReplyToShutdown, Reply: ShutdownNo}, "")
		expectCode(t, "stranger's first NO", r, ResReplyToShutdown, corosync.OK)
		select {
		case r := <-done:
			t.Fatalf("decided after one vote of two: %+v", r)
		case <-time.After(300 * time.Millisecond):
		}
		r, _ = x.do(Request{ID: ReqReplyToShutdown, Reply: ShutdownNo}, "")
		expectCode(t, "stranger's second NO", r, ResReplyToShutdown, corosync.OK)
		select {
		case r := <-done:
			if r.Error != corosync.ErrBusy {
				t.Fatalf("after two NO from one connection: %+v", r)
			}
			t.Logf("two NO votes from one non-tracker connection decided BUSY after %v (timeout 20 s)", time.Since(start))
		case <-time.After(5 * time.Second):
			t.Fatal("two votes from one connection did not count as two")
		}

		// Timeout notice: only t1 (which has issued tryshutdown) gets it.
		if err := n1.Cmap(context.Background(), "-s", "cfg.shutdown_timeout", "u32", "1000"); err != nil {
			t.Fatal(err)
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, _ := rq.raw(ctx, Request{ID: ReqTryShutdown, Flags: ShutdownRequest})
			r, _ := DecodeResponse(b, ReqTryShutdown)
			done <- r
		}()
		for _, tc := range []*session{t1, t2} {
			if e, _, err := tc.event(10 * time.Second); err != nil || e.Error != corosync.OK {
				t.Fatalf("%s event: %+v %v", tc.name, e, err)
			}
		}
		if r := <-done; r.Error != corosync.ErrBusy {
			t.Fatalf("timed out tryshutdown: %+v", r)
		}
		e, eb, err := t1.event(5 * time.Second)
		if err != nil || e.ID != EvTestShutdown || e.Error != corosync.ErrTimeout {
			t.Errorf("t1 timeout notice: %+v %v", e, err)
		} else {
			writeSeed(t, "FuzzDecodeEvent", "testshutdown-timeout", eb)
		}
		if e, _, err := t2.event(500 * time.Millisecond); err == nil {
			t.Errorf("t2 (never asked) got a timeout notice: %+v", e)
		}
	})

	t.Run("reload reply waits for the cluster", func(t *testing.T) {
		s.t = t
		start := time.Now()
		r, _ := s.do(Request{ID: ReqReloadConfig}, "reload")
		fast := time.Since(start)
		expectCode(t, "reload", r, ResReloadConfig, corosync.OK)
		if err := cl.Node(3).Unplug(); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		r, _ = s.do(Request{ID: ReqReloadConfig}, "")
		slow := time.Since(start)
		expectCode(t, "reload with a node cut off", r, ResReloadConfig, corosync.OK)
		t.Logf("reload answered after %v healthy, %v right after cutting node 3's link", fast, slow)
		if slow < 800*time.Millisecond || fast > 500*time.Millisecond {
			t.Errorf("reload latency healthy %v, cut %v: want the cut one held until the new membership (token 1000 ms)", fast, slow)
		}
	})

	t.Run("cut link", func(t *testing.T) {
		s.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n1.WaitMembers(ctx, 1, 2); err != nil {
			t.Fatal(err)
		}
		r, _ := s.do(Request{ID: ReqNodeStatusGet, NodeID: 3, Version: 1}, "nodestatus-cut-3")
		ns := r.NodeStatus
		if r.Error != corosync.OK || ns.Reachable || !ns.Links[0].Enabled || ns.Links[0].Connected {
			t.Errorf("cut node 3: %+v %+v", r, ns)
		}
		r, _ = s.do(Request{ID: ReqRingStatusGet}, "ringstatus-cut")
		if len(r.Rings) != 1 || r.Rings[0].Status != "n31" {
			t.Errorf("ring status with node 3 cut: %+v", r.Rings)
		}
		if err := cl.Heal(); err != nil {
			t.Fatal(err)
		}
		if err := n1.WaitMembers(ctx, 1, 2, 3); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("dead node and kill node", func(t *testing.T) {
		s.t = t
		if err := cl.Node(3).Kill(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n1.WaitMembers(ctx, 1, 2); err != nil {
			t.Fatal(err)
		}
		r, _ := s.do(Request{ID: ReqNodeStatusGet, NodeID: 3, Version: 1}, "nodestatus-dead-3")
		if r.Error != corosync.OK || r.NodeStatus.Reachable || r.NodeStatus.Links[0].Connected {
			t.Errorf("dead node 3: %+v", r.NodeStatus)
		}
		r, _ = s.do(Request{ID: ReqKillNode, NodeID: 3, Reason: "dead already"}, "")
		expectCode(t, "killnode of a node that left", r, ResKillNode, corosync.ErrNotExist)

		reason := "cfgwire kill test"
		start := time.Now()
		r, _ = s.do(Request{ID: ReqKillNode, NodeID: 2, Reason: reason}, "killnode")
		expectCode(t, "killnode 2", r, ResKillNode, corosync.OK)
		n2 := cl.Node(2)
		for n2.Running() && time.Since(start) < 10*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		if n2.Running() {
			t.Fatal("node 2 still running 10 s after killnode")
		}
		if want := "Killed by node 1 : " + reason; !strings.Contains(n2.Log(), want) {
			t.Errorf("node 2 log lacks %q", want)
		}
		if !strings.Contains(n2.Log(), "exiting with status -1") {
			t.Errorf("node 2 log lacks the exit status -1 line")
		}
	})
	_ = errors.Is
}
