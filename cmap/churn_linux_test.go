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
//
// IterValues pipelines each key's GET with the next ITER_NEXT; one client
// does it with short deadlines, so that batches are abandoned mid-way
// (their answers drained in the background), and a prober checks that the
// daemon keeps answering within a second throughout.
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
	var iters, keys, valueKeys, conns, abandoned, probes atomic.Int64
	var slowest atomic.Int64
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
					if i%2 == 0 {
						valueKeys.Add(1)
					}
				}
				iters.Add(1)
			}
		}()
	}
	// Pipelined iterations cut short: a deadline of 0.2 to 3 ms ends most
	// of them with a batch in flight; the client must stay usable.
	{
		c := dial(t, node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; cctx.Err() == nil; k++ {
				ictx, icancel := context.WithTimeout(cctx, time.Duration(200+k%15*200)*time.Microsecond)
				for _, err := range c.IterValues(ictx, "") {
					if err != nil {
						if ictx.Err() == nil {
							report(fmt.Errorf("short IterValues: %w", err))
						} else {
							abandoned.Add(1)
						}
						break
					}
				}
				icancel()
				if _, err := c.GetString(cctx, "totem.cluster_name"); err != nil && cctx.Err() == nil {
					report(fmt.Errorf("get after a cut-short IterValues: %w", err))
				}
			}
		}()
	}
	// The daemon answers a fresh client within a second throughout.
	{
		c := dial(t, node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				t0 := time.Now()
				pctx, pcancel := context.WithTimeout(ctx, time.Second)
				_, err := c.GetString(pctx, "totem.cluster_name")
				pcancel()
				if err != nil && cctx.Err() == nil {
					report(fmt.Errorf("probe: the daemon did not answer within a second: %w", err))
				}
				if d := int64(time.Since(t0)); d > slowest.Load() {
					slowest.Store(d)
				}
				probes.Add(1)
				time.Sleep(20 * time.Millisecond)
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
	if iters.Load() < 20 || conns.Load() < 20 || valueKeys.Load() < 100 || abandoned.Load() < 5 {
		t.Fatalf("too little load to prove anything: %d iterations (%d keys with values), %d connections, %d iterations cut short",
			iters.Load(), valueKeys.Load(), conns.Load(), abandoned.Load())
	}
	t.Logf("%s: %d iterations (%d keys, %d with pipelined values), %d cut short, %d connections opened and closed, pid %d unchanged; slowest of %d probes %v",
		node.Daemon(), iters.Load(), keys.Load(), valueKeys.Load(), abandoned.Load(), conns.Load(), pid, probes.Load(), time.Duration(slowest.Load()))
}
