package status

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// BenchmarkSnapshotVsTools compares one status snapshot of node 1 of a real
// 3-node cluster with exec'ing corosync-quorumtool -s plus corosync-cfgtool
// -s on the same node, in the same run, interleaved: each round execs the
// two tools once (forked straight into the node's network namespace, no
// `ip netns exec` in between), takes 16 snapshots on a dialed Client, and
// one Get (dial, read, close). It reports the p50 of each and the ratio of
// the p50s (tools / snapshot).
func BenchmarkSnapshotVsTools(b *testing.B) {
	cl := corotest.Start(b, 3, corotest.Options{})
	n := cl.Node(1)
	ctx := context.Background()
	c, err := Dial(ctx, client.WithDialer(n.Dialer()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	qt, ct := cl.Daemon().Bin("corosync-quorumtool"), cl.Daemon().Bin("corosync-cfgtool")
	// quorumtool exits 2 when not quorate, cfgtool 1 when a link is down:
	// their report is printed all the same.
	run := func(name string) error {
		err := exec.Command(name, "-s").Run()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() <= 2 {
			return nil
		}
		return err
	}
	tools := func() error {
		return netns.Do(n.NetNSPath(), func() error {
			if err := run(qt); err != nil {
				return err
			}
			return run(ct)
		})
	}
	if err := tools(); err != nil {
		b.Fatal(err)
	}
	var snaps, gets, execs []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := tools(); err != nil {
			b.Fatal(err)
		}
		execs = append(execs, time.Since(start))
		for range 16 {
			start := time.Now()
			if _, err := c.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
			snaps = append(snaps, time.Since(start))
		}
		start = time.Now()
		if _, err := Get(ctx, client.WithDialer(n.Dialer())); err != nil {
			b.Fatal(err)
		}
		gets = append(gets, time.Since(start))
	}
	p50 := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	s, g, t := p50(snaps), p50(gets), p50(execs)
	b.ReportMetric(float64(s)/1e3, "snapshot-p50-µs")
	b.ReportMetric(float64(g)/1e3, "get-p50-µs")
	b.ReportMetric(float64(t)/1e3, "tools-p50-µs")
	b.ReportMetric(float64(t)/float64(s), "tools/snapshot")
	b.ReportMetric(float64(t)/float64(g), "tools/get")
}
