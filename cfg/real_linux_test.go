package cfg_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/internal/cfgwire"
	"github.com/corosync-go/corosync/internal/corotest"
	"github.com/corosync-go/corosync/transport"
)

var fast = cfg.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.2}

// raw sends one request on a plain transport connection and decodes the
// reply with cfgwire: the reference the client's answers must equal.
func raw(t *testing.T, ctx context.Context, c transport.Conn, r cfgwire.Request) cfgwire.Response {
	t.Helper()
	b, err := cfgwire.AppendRequest(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Request(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cfgwire.DecodeResponse(out, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func dial(t *testing.T, ctx context.Context, n *corotest.Node, opts ...cfg.Option) *cfg.Client {
	t.Helper()
	c, err := cfg.Dial(ctx, append([]cfg.Option{cfg.WithDialer(n.Dialer()), cfg.WithBackoff(fast)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder reads a subscription into a channel.
func record(sub *cfg.Subscription, wg *sync.WaitGroup) <-chan cfg.Event {
	ch := make(chan cfg.Event, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		for ev := range sub.C() {
			ch <- ev
		}
	}()
	return ch
}

func expect(t *testing.T, ctx context.Context, ch <-chan cfg.Event, kind cfg.EventKind) cfg.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("subscription ended waiting for %s", kind)
			}
			if ev.Kind == kind {
				return ev
			}
			t.Logf("skipping %s", ev)
		case <-ctx.Done():
			t.Fatalf("no %s: %v", kind, ctx.Err())
		}
	}
}

// refuse runs corosync-cfgtool -H on n, answers NO through c, and checks
// that the shutdown was refused. corosync-cfgtool 3.1.7 exits 0 either way:
// the refusal shows only in its output ("Could not shutdown (error = 10)",
// CS_ERR_BUSY) and in the daemon still running.
func refuse(t *testing.T, ctx context.Context, n *corotest.Node, c *cfg.Client, ch <-chan cfg.Event) {
	t.Helper()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		out, err := n.Exec(ctx, "corosync-cfgtool", "-H")
		done <- result{out, err}
	}()
	ev := expect(t, ctx, ch, cfg.EventShutdownRequest)
	if ev.Flags != cfg.ShutdownRequest {
		t.Errorf("flags %s", ev.Flags)
	}
	if err := c.ReplyShutdown(ctx, cfg.ShutdownNo); err != nil {
		t.Fatal(err)
	}
	r := <-done
	t.Logf("corosync-cfgtool -H after NO (%v): %v: %q", time.Since(start).Round(time.Millisecond), r.err, r.out)
	if !strings.Contains(string(r.out), "Could not shutdown (error = 10)") {
		t.Errorf("corosync-cfgtool -H not refused with CS_ERR_BUSY after NO: %v: %s", r.err, r.out)
	}
	time.Sleep(200 * time.Millisecond)
	if !n.Running() {
		t.Fatal("daemon stopped after NO")
	}
}

// TestReal runs every call against a 3-node cluster, then shutdown
// tracking (NO on node 1), a kill -9 restart of node 2, and YES on node 3,
// which stops node 3's daemon (so it runs last).
func TestReal(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := cl.Node(1).WaitMembers(ctx, 1, 2, 3); err != nil {
		t.Fatal(err)
	}

	t.Run("calls", func(t *testing.T) {
		for _, id := range cl.IDs() {
			n := cl.Node(id)
			c := dial(t, ctx, n)
			defer c.Close()
			rc, err := transport.Dial(ctx, "cfg", transport.Config{NetNS: n.NetNSPath()})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			local, err := c.LocalNodeID(ctx)
			if err != nil || local != id || c.Latest().LocalNodeID != id {
				t.Fatalf("node %d: LocalNodeID %d, %v; latest %v", id, local, err, c.Latest())
			}
			for _, other := range cl.IDs() {
				// MTUs move while PMTUd runs: retry until both agree.
				var got cfg.NodeStatus
				var want *cfgwire.NodeStatus
				for try := 0; ; try++ {
					if got, err = c.NodeStatus(ctx, other); err != nil {
						t.Fatal(err)
					}
					want = raw(t, ctx, rc, cfgwire.Request{ID: cfgwire.ReqNodeStatusGet, NodeID: other, Version: 1}).NodeStatus
					w := cfg.NodeStatus{NodeID: want.NodeID, Reachable: want.Reachable, Remote: want.Remote, External: want.External,
						OnwireMin: want.OnwireMin, OnwireMax: want.OnwireMax, OnwireVer: want.OnwireVer}
					for i, l := range want.Links {
						w.Links[i] = cfg.LinkStatus(l)
					}
					if reflect.DeepEqual(got, w) {
						break
					}
					if try == 20 {
						t.Fatalf("node %d status of %d:\n got %+v\nwant %+v", id, other, got, w)
					}
					time.Sleep(100 * time.Millisecond)
				}
				if !got.Reachable || got.NodeID != other || !got.Links[0].Enabled || !got.Links[0].Connected {
					t.Errorf("node %d status of %d: %+v", id, other, got)
				}
				if other == id && got.Links[0].MTU != 65535 {
					t.Errorf("node %d local link MTU %d", id, got.Links[0].MTU)
				}
				if got.OnwireMin != 0 || got.OnwireMax != 0 || got.OnwireVer != 0 {
					t.Logf("onwire fields not 0: %+v", got)
				}
				addrs, err := c.NodeAddrs(ctx, other)
				wantAddr := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", other))
				if err != nil || !slices.Equal(addrs, []netip.Addr{wantAddr}) {
					t.Errorf("node %d addrs of %d: %v %v", id, other, addrs, err)
				}
			}
			if addrs, err := c.NodeAddrs(ctx, 0); err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", id)) {
				t.Errorf("node %d addrs of 0: %v %v", id, addrs, err)
			}
			rings, err := c.RingStatus(ctx)
			if err != nil || len(rings) != 1 || rings[0].Name != fmt.Sprintf("0 192.0.2.%d", id) {
				t.Errorf("node %d ring status %q %v", id, rings, err)
			}
		}
		c := dial(t, ctx, cl.Node(1))
		defer c.Close()
		if _, err := c.NodeStatus(ctx, 9); !errors.Is(err, corosync.ErrFailedOperation) {
			t.Errorf("status of node 9: %v", err)
		}
		if _, err := c.NodeAddrs(ctx, 9); !errors.Is(err, corosync.ErrNotExist) {
			t.Errorf("addrs of node 9: %v", err)
		}
		if err := c.KillNode(ctx, 9, "test"); !errors.Is(err, corosync.ErrNotExist) {
			t.Errorf("kill node 9: %v", err)
		}
		if err := c.KillNode(ctx, 9, string(make([]byte, 300))); !errors.Is(err, corosync.ErrNameTooLong) {
			t.Errorf("kill node with a long reason: %v", err)
		}
		if err := c.ReplyShutdown(ctx, cfg.ShutdownNo); !errors.Is(err, corosync.ErrAccess) {
			t.Errorf("reply with nothing pending: %v", err)
		}
		if err := c.ReopenLog(ctx); err != nil {
			t.Error(err)
		}
		if err := c.Reload(ctx); err != nil {
			t.Error(err)
		}
	})

	t.Run("shutdown refused", func(t *testing.T) {
		n := cl.Node(1)
		c := dial(t, ctx, n, cfg.WithShutdownTracking())
		defer c.Close()
		if !c.Latest().Tracking {
			t.Fatal("not tracking")
		}
		sub, err := c.Subscribe(ctx, cfg.Queue(16))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer sub.Close()
		ch := record(sub, &wg)
		expect(t, ctx, ch, cfg.EventSnapshot)
		refuse(t, ctx, n, c, ch)

		// Our own Shutdown, refused by our own tracker: BUSY. A call made
		// meanwhile on the requester waits for the held-back reply and gets
		// its own answer.
		req := dial(t, ctx, n)
		defer req.Close()
		start := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- req.Shutdown(ctx, cfg.ShutdownRequest) }()
		ev := expect(t, ctx, ch, cfg.EventShutdownRequest)
		time.Sleep(100 * time.Millisecond) // let the LocalNodeID call queue behind Shutdown
		idc := make(chan uint32, 1)
		go func() { id, _ := req.LocalNodeID(ctx); idc <- id }()
		time.Sleep(100 * time.Millisecond)
		if err := c.ReplyShutdown(ctx, cfg.ShutdownNo); err != nil {
			t.Fatal(err)
		}
		err = <-errc
		t.Logf("Shutdown(%s) answered after %v: %v", ev.Flags, time.Since(start).Round(time.Millisecond), err)
		if !errors.Is(err, corosync.ErrBusy) {
			t.Errorf("Shutdown refused by a tracker: %v, want CS_ERR_BUSY", err)
		}
		if id := <-idc; id != 1 {
			t.Errorf("LocalNodeID queued behind Shutdown: %d", id)
		}
	})

	t.Run("restart", func(t *testing.T) {
		n := cl.Node(2)
		c := dial(t, ctx, n, cfg.WithShutdownTracking())
		defer c.Close()
		sub, err := c.Subscribe(ctx, cfg.Queue(16))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer sub.Close()
		ch := record(sub, &wg)
		expect(t, ctx, ch, cfg.EventSnapshot)
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		if ev := expect(t, ctx, ch, cfg.EventDisconnected); ev.Connected || ev.Err == nil {
			t.Errorf("disconnected event %v", ev)
		}
		if _, err := c.LocalNodeID(ctx); !errors.Is(err, cfg.ErrNotConnected) {
			t.Errorf("call while disconnected: %v", err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		rec := expect(t, ctx, ch, cfg.EventReconnected)
		snap := expect(t, ctx, ch, cfg.EventSnapshot)
		t.Logf("reconnected %v after kill -9", time.Since(killed).Round(time.Millisecond))
		if !rec.Connected || !snap.Tracking || snap.LocalNodeID != 2 {
			t.Errorf("reconnected %v, snapshot %v", rec, snap)
		}
		if id, err := c.LocalNodeID(ctx); err != nil || id != 2 {
			t.Errorf("after reconnect: %d %v", id, err)
		}
		// Tracking is back: a shutdown request reaches us again.
		refuse(t, ctx, n, c, ch)
	})

	t.Run("shutdown agreed", func(t *testing.T) {
		n := cl.Node(3)
		c := dial(t, ctx, n, cfg.WithShutdownTracking(), cfg.WithReconnect(false))
		defer c.Close()
		sub, err := c.Subscribe(ctx, cfg.Queue(16))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer sub.Close()
		ch := record(sub, &wg)
		expect(t, ctx, ch, cfg.EventSnapshot)
		done := make(chan error, 1)
		var out []byte
		go func() {
			var err error
			out, err = n.Exec(ctx, "corosync-cfgtool", "-H")
			done <- err
		}()
		expect(t, ctx, ch, cfg.EventShutdownRequest)
		if err := c.ReplyShutdown(ctx, cfg.ShutdownYes); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("corosync-cfgtool -H after YES: %v: %s", err, out)
		}
		expect(t, ctx, ch, cfg.EventDisconnected)
		deadline := time.Now().Add(15 * time.Second)
		for n.Running() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n.Running() {
			t.Fatal("daemon still running after YES")
		}
	})
}
