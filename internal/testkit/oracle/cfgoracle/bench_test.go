//go:build oracle

package cfgoracle

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
	"github.com/corosync-go/corosync/transport"
)

// BenchmarkNodeStatus measures one node status round trip (node 2 as node 1
// sees it) through cfg.Client.NodeStatus and through C libcfg's
// corosync_cfg_node_status_get against the same daemon, in one run, with
// p50 and p99 per op. libcfg-raw is the C call alone; libcfg also converts
// the C struct to Go values (as a caller must), which allocates strings.
//
//	go test -tags oracle -run '^$' -bench NodeStatus -benchtime 20000x ./internal/testkit/oracle/cfgoracle/
func BenchmarkNodeStatus(b *testing.B) {
	cl := corotest.Start(b, 2, corotest.Options{})
	n := cl.Node(1)
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := n.WaitMembers(wctx, 1, 2); err != nil {
		b.Fatal(err)
	}
	ours, err := cfg.Dial(ctx, client.WithDialer(n.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer ours.Close()
	nospin, err := cfg.Dial(ctx, client.WithDialer(transport.NewDialer(transport.Config{NetNS: n.NetNSPath(), SpinWait: -1})))
	if err != nil {
		b.Fatal(err)
	}
	defer nospin.Close()
	or, err := Open(n.NetNSPath())
	if err != nil {
		b.Fatal(err)
	}
	defer or.Finalize()
	// Both sides must see the same thing before timing anything.
	if st, err := ours.NodeStatus(ctx, 2); err != nil || !st.Reachable {
		b.Fatalf("ours: %+v %v", st, err)
	}
	if st, err := or.NodeStatusGet(2); err != nil || !st.Reachable {
		b.Fatalf("libcfg: %+v %v", st, err)
	}
	run := func(b *testing.B, f func() error) {
		b.ReportAllocs()
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < 100; i++ { // warm up
			f()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
	var buf NodeStatusBuf
	b.Run("libcfg-first", func(b *testing.B) {
		run(b, func() error { _, err := or.NodeStatusGet(2); return err })
	})
	b.Run("go", func(b *testing.B) {
		run(b, func() error { _, err := ours.NodeStatus(ctx, 2); return err })
	})
	b.Run("go-nospin", func(b *testing.B) {
		run(b, func() error { _, err := nospin.NodeStatus(ctx, 2); return err })
	})
	// The transport alone (same request, no session, no decoding): what
	// cfg adds on top of it.
	tc, err := transport.Dial(ctx, "cfg", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	req, _ := cfgwire.AppendRequest(nil, cfgwire.Request{ID: cfgwire.ReqNodeStatusGet, NodeID: 2, Version: cfgwire.NodeStatusV1})
	resp := make([]byte, 0, 8192)
	b.Run("transport", func(b *testing.B) {
		run(b, func() error { _, err := tc.Request(ctx, req, resp); return err })
	})
	b.Run("libcfg", func(b *testing.B) {
		run(b, func() error { _, err := or.NodeStatusGet(2); return err })
	})
	b.Run("libcfg-raw", func(b *testing.B) {
		run(b, func() error { return or.NodeStatusRaw(2, &buf) })
	})
	// Alternating calls, so that all see the same machine load: one op is
	// one call of each (cfg, the bare transport, libcfg), in an order that
	// rotates; p50/p99 are reported per side.
	b.Run("interleaved", func(b *testing.B) {
		calls := []struct {
			name string
			f    func() error
			lat  []time.Duration
		}{
			{"go", func() error { _, err := ours.NodeStatus(ctx, 2); return err }, nil},
			{"transport", func() error { _, err := tc.Request(ctx, req, resp); return err }, nil},
			{"libcfg", func() error { return or.NodeStatusRaw(2, &buf) }, nil},
		}
		for i := range calls {
			calls[i].lat = make([]time.Duration, 0, b.N)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range calls {
				c := &calls[(i+j)%len(calls)]
				t0 := time.Now()
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
				c.lat = append(c.lat, time.Since(t0))
			}
		}
		b.StopTimer()
		for _, c := range calls {
			sort.Slice(c.lat, func(i, j int) bool { return c.lat[i] < c.lat[j] })
			b.ReportMetric(float64(c.lat[len(c.lat)/2].Nanoseconds()), c.name+"-p50-ns")
			b.ReportMetric(float64(c.lat[len(c.lat)*99/100].Nanoseconds()), c.name+"-p99-ns")
		}
	})
}
