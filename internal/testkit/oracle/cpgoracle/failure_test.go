//go:build oracle && linux

package cpgoracle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// TestClientInteropFailure: a cpg.Group and a C libcpg client in one group
// on each of 3 nodes, all six sending all the time, while node 3 is killed
// (SIGKILL), then nodes 1 and 2 are partitioned from each other and healed.
// On each surviving node the Go member's stream of messages and confchgs
// equals the C member's, event for event: every confchg (node down,
// partition, merge) at the same position among the messages.
func TestClientInteropFailure(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	if err := cl.WaitFormed(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const group = "interop-failure"
	gopid := uint32(os.Getpid()) + 100000
	var gos []*cpg.Group
	var cs []*Client
	for _, n := range cl.Nodes {
		c, err := cpg.Dial(ctx, client.WithDialer(n.Dialer()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		g, err := c.Join(ctx, group, cpg.WithPID(gopid), cpg.Queue(1<<16))
		if err != nil {
			t.Fatal(err)
		}
		gos = append(gos, g)
		cc, err := Open(n.NetNSPath(), cpgwire.ModelV1DeliverInitialTotemConf)
		if err != nil {
			t.Fatal(err)
		}
		if n.ID != 3 { // node 3's client dies with its daemon
			defer cc.Finalize()
		}
		if err := cc.Join(group); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, cc)
	}

	// Senders: every member sends numbered messages until stop; then the
	// Go members of nodes 1 and 2 send an end marker (after the heal).
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := range cl.Nodes {
		g, cc := gos[i], cs[i]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
				err := g.Send(sctx, fmt.Appendf(nil, "go %d %d", i+1, k), cpg.Agreed)
				scancel()
				if err != nil {
					if i == 2 || errors.Is(err, context.DeadlineExceeded) {
						return // node 3 killed; or blocked past the test
					}
					continue
				}
				sent.Add(1)
				time.Sleep(time.Millisecond)
			}
		}()
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				for cc.McastJoined(cpgwire.GuaranteeAgreed, fmt.Appendf(nil, "c %d %d", i+1, k)) != nil {
					if i == 2 {
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}

	// Readers on the surviving nodes: until both end markers are read.
	ends := []string{mkey(gos[0].Self(), []byte("end 1")), mkey(gos[1].Self(), []byte("end 2"))}
	streams := make([][2][]string, 2)
	var rg sync.WaitGroup
	for i := range 2 {
		g, cc := gos[i], cs[i]
		rg.Add(2)
		go func() {
			defer rg.Done()
			var s []string
			for !(slices.Contains(s, ends[0]) && slices.Contains(s, ends[1])) {
				ev, err := g.Next(ctx)
				if err != nil {
					t.Errorf("node %d go: %v", i+1, err)
					break
				}
				if k := gokey(ev); k != "" {
					s = append(s, k)
				}
			}
			streams[i][0] = s
		}()
		go func() {
			defer rg.Done()
			var s []string
			for !(slices.Contains(s, ends[0]) && slices.Contains(s, ends[1])) && ctx.Err() == nil {
				evs, err := cc.Poll(20 * time.Millisecond)
				if err != nil {
					t.Errorf("node %d libcpg: %v", i+1, err)
					break
				}
				for _, e := range evs {
					if k := ckey(e); k != "" {
						s = append(s, k)
					}
				}
			}
			streams[i][1] = s
		}()
	}

	phase := func(what string, f func() error) {
		time.Sleep(500 * time.Millisecond)
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s (%d Go messages sent so far)", what, sent.Load())
	}
	phase("killed node 3", cl.Node(3).Kill)
	phase("node 1 and 2 see 2 nodes", func() error {
		for _, id := range []uint32{1, 2} {
			if err := cl.Node(id).WaitMembers(ctx, 1, 2); err != nil {
				return err
			}
		}
		return nil
	})
	phase("partitioned {1} {2}", func() error { return cl.Split([]uint32{1}, []uint32{2}) })
	phase("node 1 and 2 alone", func() error {
		if err := cl.Node(1).WaitMembers(ctx, 1); err != nil {
			return err
		}
		return cl.Node(2).WaitMembers(ctx, 2)
	})
	phase("healed", cl.Heal)
	phase("node 1 and 2 merged", func() error {
		for _, id := range []uint32{1, 2} {
			if err := cl.Node(id).WaitMembers(ctx, 1, 2); err != nil {
				return err
			}
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i := range 2 {
		if err := gos[i].Send(ctx, fmt.Appendf(nil, "end %d", i+1), cpg.Agreed); err != nil {
			t.Fatal(err)
		}
	}
	rg.Wait()
	if t.Failed() {
		return
	}
	from := func(s []string) []string {
		for i, k := range s {
			if strings.HasPrefix(k, "c ") && strings.Count(k[:strings.Index(k, "]")], "/") == 6 {
				return s[i:]
			}
		}
		t.Fatalf("no confchg of the full group in %v", s[:min(len(s), 10)])
		return nil
	}
	for i := range 2 {
		gs, c := from(streams[i][0]), from(streams[i][1])
		if !slices.Equal(gs, c) {
			n := 0
			for n < min(len(gs), len(c)) && gs[n] == c[n] {
				n++
			}
			t.Errorf("node %d: Go's %d events differ from libcpg's %d at %d:\ngo: %v\nC:  %v", i+1, len(gs), len(c), n,
				gs[n:min(len(gs), n+5)], c[n:min(len(c), n+5)])
			continue
		}
		var confchgs []string
		for _, k := range gs {
			if strings.HasPrefix(k, "c ") {
				confchgs = append(confchgs, k)
			}
		}
		t.Logf("node %d: Go and libcpg read the same %d events, confchgs:\n%s", i+1, len(gs), strings.Join(confchgs, "\n"))
		if len(confchgs) < 4 {
			t.Errorf("node %d: %d confchgs, want the full group, node 3 down, the partition and the merge", i+1, len(confchgs))
		}
	}
}
