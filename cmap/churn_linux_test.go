package cmap_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/votequorum"
)

// TestIterUnderConnectionChurn iterates the whole map ("") and runtime.
// with several clients while other goroutines open and close quorum, cfg
// and votequorum connections and join and leave cpg groups, for about 10
// seconds, and then checks that the daemon kept its pid and answers.
//
// corosync 2.x keeps a runtime.connections.<name>:<pid>:<ptr>.* entry per
// IPC connection and crashes (SIGSEGV) when an iterator stands inside that
// subtree while connections come and go; Iter must never put it there. On
// 3.x the entries live in the stats map and the test shows iteration under
// churn is harmless there too.
func TestIterUnderConnectionChurn(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	node := cl.Nodes[0]
	pid := node.Pid()
	d := node.Dialer()
	ctx := ctxT(t, 60*time.Second)
	checkVersion(t, dial(t, node), node)

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var iters, keys, conns atomic.Int64
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for i, prefix := range []string{"", "runtime.", "", "runtime."} {
		c := dial(t, node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				seq := c.Iter(cctx, prefix)
				if i%2 == 0 {
					seq = c.IterValues(cctx, prefix)
				}
				for _, err := range seq {
					if err != nil {
						if cctx.Err() == nil {
							report(fmt.Errorf("iterating %q: %w", prefix, err))
						}
						break
					}
					keys.Add(1)
				}
				iters.Add(1)
			}
		}()
	}
	churn := []func(context.Context) error{
		func(ctx context.Context) error {
			q, err := quorum.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return err
			}
			return q.Close()
		},
		func(ctx context.Context) error {
			c, err := cfg.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return err
			}
			return c.Close()
		},
		func(ctx context.Context) error {
			v, err := votequorum.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return err
			}
			return v.Close()
		},
		func(ctx context.Context) error {
			c, err := cpg.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return err
			}
			defer c.Close()
			g, err := c.Join(ctx, "churn")
			if err != nil {
				return err
			}
			if err := g.Leave(ctx); err != nil {
				return err
			}
			return g.Close()
		},
	}
	for _, f := range churn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				if err := f(cctx); err != nil {
					if cctx.Err() == nil {
						report(err)
					}
					time.Sleep(10 * time.Millisecond) // no spinning on a dead daemon
					continue
				}
				conns.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Errorf("under churn: %v", err)
		}
	}
	if n > 5 {
		t.Errorf("under churn: %d errors in all", n)
	}
	if !node.Running() || node.Pid() != pid {
		t.Fatalf("the daemon (pid %d) died under iteration with connection churn", pid)
	}
	c := dial(t, node)
	if _, err := c.GetString(ctxT(t, 2*time.Second), "totem.cluster_name"); err != nil {
		t.Fatalf("the daemon does not answer after the churn: %v", err)
	}
	if iters.Load() < 20 || conns.Load() < 20 {
		t.Fatalf("too little load to prove anything: %d iterations, %d connections", iters.Load(), conns.Load())
	}
	t.Logf("%s: %d iterations (%d keys), %d connections opened and closed, pid %d unchanged",
		node.Daemon(), iters.Load(), keys.Load(), conns.Load(), pid)
}
