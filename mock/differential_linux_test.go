package mock_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
)

// cfgView is what node 1's cfg service says, normalised for comparison
// (path MTUs of remote links depend on knet's discovery and are left out).
type cfgView struct {
	Local  uint32
	Rings  []cfg.RingInterface
	Status map[uint32]cfg.NodeStatus
	Addrs  map[uint32]string
	Errors map[string]string
}

func readCfg(ctx context.Context, c *cfg.Client) cfgView {
	v := cfgView{Status: map[uint32]cfg.NodeStatus{}, Addrs: map[uint32]string{}, Errors: map[string]string{}}
	v.Local, _ = c.LocalNodeID(ctx)
	v.Rings, _ = c.RingStatus(ctx)
	for id := uint32(1); id <= 3; id++ {
		st, err := c.NodeStatus(ctx, id)
		if err != nil {
			v.Errors[fmt.Sprint("status ", id)] = err.Error()
			continue
		}
		if id != v.Local {
			for i := range st.Links {
				st.Links[i].MTU = 0
			}
		}
		v.Status[id] = st
		a, err := c.NodeAddrs(ctx, id)
		v.Addrs[id] = fmt.Sprint(a, err)
	}
	_, err := c.NodeStatus(ctx, 9)
	v.Errors["status 9"] = codeOf(err)
	_, err = c.NodeAddrs(ctx, 9)
	v.Errors["addrs 9"] = codeOf(err)
	err = c.ReplyShutdown(ctx, cfg.ShutdownNo)
	v.Errors["reply"] = codeOf(err)
	return v
}

func codeOf(err error) string {
	if err == nil {
		return "OK"
	}
	return fmt.Sprint(corosyncCode(err))
}

// The mock's cfg answers equal real corosync 3.1.7's, for the same cluster
// in the same states: all up, node 3 cut off, healed, node 2 dead.
func TestCfgMockEqualsReal(t *testing.T) {
	real := corotest.Start(t, 3, corotest.Options{})
	fake := mock.NewCluster(3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := cfg.Dial(ctx, client.WithDialer(real.Node(1).Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	fc, err := cfg.Dial(ctx, client.WithDialer(fake.Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	compare := func(step string) {
		t.Helper()
		var r, f cfgView
		for deadline := time.Now().Add(20 * time.Second); ; {
			r, f = readCfg(ctx, rc), readCfg(ctx, fc)
			if reflect.DeepEqual(r, f) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s:\nreal %+v\nmock %+v", step, r, f)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	compare("all up")
	// A tracker that answers NO refuses a shutdown request, on both.
	for name, d := range map[string]client.Option{"real": client.WithDialer(real.Node(1).Dialer()), "mock": client.WithDialer(fake.Node(1))} {
		if got := refusedShutdown(t, ctx, d); got != "CS_ERR_BUSY: busy" {
			t.Fatalf("%s: shutdown with a NO tracker answered %q, want BUSY", name, got)
		}
	}
	if err := real.Split([]uint32{1, 2}); err != nil {
		t.Fatal(err)
	}
	fake.Partition([]uint32{1, 2}, []uint32{3})
	if err := real.Node(1).WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	compare("node 3 cut off")
	if err := real.Heal(); err != nil {
		t.Fatal(err)
	}
	fake.Heal()
	if err := real.WaitFormed(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	compare("healed")
	real.Node(2).Kill()
	fake.Kill(2)
	if err := real.Node(1).WaitMembers(ctx, 1, 3); err != nil {
		t.Fatal(err)
	}
	compare("node 2 dead")
}

// refusedShutdown runs a shutdown request against a tracker that answers
// NO and returns the requester's answer.
func refusedShutdown(t *testing.T, ctx context.Context, d client.Option) string {
	tr, err := cfg.Dial(ctx, d, cfg.WithShutdownTracking())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, _ := tr.Subscribe(ctx, dispatch.Queue(8))
	defer sub.Close()
	go func() {
		for ev := range sub.C() {
			if ev.Kind == corosync.EventShutdownRequest {
				tr.ReplyShutdown(ctx, cfg.ShutdownNo)
				return
			}
		}
	}()
	asker, err := cfg.Dial(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer asker.Close()
	return codeOf(asker.Shutdown(ctx, cfg.ShutdownRequest))
}
