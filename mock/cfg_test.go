package mock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialCfg(t *testing.T, n *mock.Node, opts ...client.Option) *cfg.Client {
	t.Helper()
	c, err := cfg.Dial(ctxT(t), append([]client.Option{client.WithDialer(n), client.WithoutReconnect()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Node and link status follow the mock's membership.
func TestCfgNodeStatus(t *testing.T) {
	cl := mock.NewCluster(3)
	c := dialCfg(t, cl.Node(1))
	ctx := ctxT(t)
	if id, err := c.LocalNodeID(ctx); err != nil || id != 1 {
		t.Fatalf("LocalNodeID %d %v", id, err)
	}
	check := func(step string, want map[uint32]bool) {
		t.Helper()
		for id, up := range want {
			st, err := c.NodeStatus(ctx, id)
			if err != nil {
				t.Fatalf("%s: NodeStatus(%d): %v", step, id, err)
			}
			if st.Reachable != up || st.Links[0].Connected != up || !st.Links[0].Enabled {
				t.Fatalf("%s: node %d status %+v, want reachable %v", step, id, st, up)
			}
		}
	}
	check("all up", map[uint32]bool{1: true, 2: true, 3: true})
	cl.Partition([]uint32{1, 2}, []uint32{3})
	check("3 cut off", map[uint32]bool{1: true, 2: true, 3: false})
	cl.Heal()
	cl.Kill(2)
	check("2 dead", map[uint32]bool{1: true, 2: false, 3: true})
	if _, err := c.NodeStatus(ctx, 9); !errors.Is(err, corosync.ErrFailedOperation) || !errors.Is(err, corosync.ErrNotExist) ||
		err.Error() != "cfg node_status_get node 9: node 9 is not a knet host of this cluster (CS_ERR_FAILED_OPERATION)" {
		t.Fatalf("unknown node: %v", err)
	}
	if _, err := c.NodeAddrs(ctx, 9); !errors.Is(err, corosync.ErrNotExist) || !strings.Contains(err.Error(), "node 9") {
		t.Fatalf("addrs of unknown node: %v", err)
	}
	addrs, err := c.NodeAddrs(ctx, 3)
	if err != nil || len(addrs) != 1 || addrs[0].String() != "192.0.2.3" {
		t.Fatalf("NodeAddrs(3) = %v %v", addrs, err)
	}
	rings, err := c.RingStatus(ctx)
	if err != nil || len(rings) != 1 || rings[0].Name != "0 192.0.2.1" || rings[0].Status != "n13" {
		t.Fatalf("RingStatus = %+v %v", rings, err)
	}
	if err := c.KillNode(ctx, 3, "test"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.NodeStatus(ctx, 3); st.Reachable {
		t.Fatal("killed node still reachable")
	}
	if err := c.KillNode(ctx, 3, "again"); !errors.Is(err, corosync.ErrNotExist) {
		t.Fatalf("kill a dead node: %v", err)
	}
	if err := c.ReplyShutdown(ctx, cfg.ShutdownYes); !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("reply with nothing pending: %v", err)
	}
}

// Shutdown coordination: a tracker's NO refuses (BUSY), YES lets the daemon
// stop, IMMEDIATE asks nobody, REGARDLESS stops despite a NO, and an
// unanswered request is refused at the timeout.
func TestCfgShutdown(t *testing.T) {
	run := func(t *testing.T, flags cfg.ShutdownFlags, answer *cfg.ShutdownReply, wantErr error, wantUp bool) {
		cl := mock.NewCluster(2, mock.WithShutdownTimeout(200*time.Millisecond))
		tracker := dialCfg(t, cl.Node(1), cfg.WithShutdownTracking())
		sub, err := tracker.Subscribe(ctxT(t), dispatch.Queue(8))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if answer != nil {
			go func() {
				for ev := range sub.C() {
					if ev.Kind == corosync.EventShutdownRequest {
						tracker.ReplyShutdown(context.Background(), *answer)
						return
					}
				}
			}()
		}
		asker := dialCfg(t, cl.Node(1))
		err = asker.Shutdown(ctxT(t), flags)
		if (wantErr == nil) != (err == nil) || (wantErr != nil && !errors.Is(err, wantErr)) {
			t.Fatalf("Shutdown(%v) = %v, want %v", flags, err, wantErr)
		}
		deadline := time.Now().Add(2 * time.Second)
		for cl.Node(1).Connections() > 0 == !wantUp && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if up := cl.Node(1).Quorate() || cl.Node(1).Connections() > 0; up != wantUp {
			t.Fatalf("daemon running %v, want %v", up, wantUp)
		}
	}
	no, yes := cfg.ShutdownNo, cfg.ShutdownYes
	t.Run("no", func(t *testing.T) { run(t, cfg.ShutdownRequest, &no, corosync.ErrBusy, true) })
	t.Run("yes", func(t *testing.T) { run(t, cfg.ShutdownRequest, &yes, nil, false) })
	t.Run("timeout", func(t *testing.T) { run(t, cfg.ShutdownRequest, nil, corosync.ErrBusy, true) })
	t.Run("regardless", func(t *testing.T) { run(t, cfg.ShutdownRegardless, &no, nil, false) })
	t.Run("immediate", func(t *testing.T) { run(t, cfg.ShutdownImmediate, nil, nil, false) })
}

func corosyncCode(err error) corosync.Error { return corosync.Code(err) }
