//go:build oracle && linux

package matrixoracle

import (
	"context"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/votequorum"
)

// BenchmarkCalls times one call of each service, Go and the daemon's own C
// library, on a one-node cluster of the daemon under test
// (COROSYNC_GO_DAEMON), in the same run. BENCHMARKS.md has the ratios.
func BenchmarkCalls(b *testing.B) {
	c := corotest.Start(b, 1, corotest.Options{})
	nd := c.Node(1)
	ns := nd.NetNSPath()
	ctx := context.Background()

	q, err := quorum.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	cq, err := OpenQuorum(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer cq.Close()
	vq, err := votequorum.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer vq.Close()
	cvq, err := OpenVotequorum(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer cvq.Close()
	cf, err := cfg.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer cf.Close()
	ccf, err := OpenCfg(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer ccf.Close()
	cm, err := cmap.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer cm.Close()
	ccm, err := OpenCmap(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer ccm.Close()

	type call struct {
		name string
		goFn func() error
		cFn  func() error
	}
	calls := []call{
		{"quorum_getquorate", func() error { _, err := q.Quorate(ctx); return err }, func() error { _, err := cq.Quorate(); return err }},
		{"votequorum_getinfo", func() error { _, err := vq.Info(ctx, 0); return err }, func() error { _, err := cvq.Info(0); return err }},
		{"cfg_local_get", func() error { _, err := cf.LocalNodeID(ctx); return err }, func() error { _, err := ccf.LocalNodeID(); return err }},
		{"cfg_ring_status_get", func() error { _, err := cf.RingStatus(ctx); return err }, func() error { _, err := ccf.Rings(); return err }},
		{"cmap_get", func() error { _, err := cm.Get(ctx, "totem.cluster_name"); return err }, func() error { _, _, err := ccm.Get("totem.cluster_name"); return err }},
		// Keys and values of a prefix outside runtime.connections. (on 2.x
		// the Go client walks around that subtree, libcmap does not).
		{"cmap_itervalues_totem", func() error { return iterValues(ctx, cm, "totem.") }, func() error { _, err := ccm.IterGet("totem."); return err }},
		{"cmap_itervalues_runtime.totem", func() error { return iterValues(ctx, cm, "runtime.totem.") }, func() error { _, err := ccm.IterGet("runtime.totem."); return err }},
	}
	if HasExtraInfo() { // corosync main
		calls = append(calls, call{"votequorum_get_qdevice_extra_info",
			func() error { _, err := vq.QdeviceExtraInfo(ctx, 1); return err },
			func() error { _, err := cvq.ExtraInfo(1); return err }})
	}
	for _, bc := range calls {
		// paired: Go and C alternate in blocks of 16 calls, so both see the
		// machine in the same moments; the ratio is the figure to trust.
		b.Run(bc.name+"/paired", func(b *testing.B) {
			var tg, tc time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				for range 16 {
					if err := bc.goFn(); err != nil {
						b.Fatal(err)
					}
				}
				mid := time.Now()
				for range 16 {
					if err := bc.cFn(); err != nil {
						b.Fatal(err)
					}
				}
				tg, tc, n = tg+mid.Sub(start), tc+time.Since(mid), n+16
			}
			b.ReportMetric(float64(tg.Nanoseconds())/float64(n), "go-ns/call")
			b.ReportMetric(float64(tc.Nanoseconds())/float64(n), "c-ns/call")
			b.ReportMetric(float64(tg)/float64(tc), "go/c")
		})
		for _, impl := range []struct {
			name string
			fn   func() error
		}{{"go", bc.goFn}, {"c", bc.cFn}} {
			b.Run(bc.name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := impl.fn(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func iterValues(ctx context.Context, c *cmap.Client, prefix string) error {
	for _, err := range c.IterValues(ctx, prefix) {
		if err != nil {
			return err
		}
	}
	return nil
}
