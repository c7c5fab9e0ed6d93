//go:build oracle && linux

package cpgoracle

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

// memberEnv makes the test binary a member process: "netns;group,group".
const memberEnv = "CPGORACLE_MEMBER"

// memberProcess starts this test binary as another process holding one
// member (ours) of each group on node n and reading everything, as the
// application on another node would. In the same process, that member's
// goroutines would compete with the measured client's for the same Ps at
// every delivery, a cost no real cluster has.
func memberProcess(b *testing.B, n *corotest.Node, groups ...string) {
	child(b, "member process", memberEnv+"="+n.NetNSPath()+";"+strings.Join(groups, ","))
}

// child starts this test binary as another process with env set (a role
// its TestMain recognises), waits for its "ready" line, and returns its
// stdin and stdout. Closing its stdin (at the end of b) makes it exit.
func child(b *testing.B, what, env string) (io.WriteCloser, *bufio.Reader) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the child leaves its groups and exits
		cmd.Wait()
	})
	out := bufio.NewReader(pipe)
	ready := make(chan string, 1)
	go func() {
		line, _ := out.ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			b.Fatalf("%s: %q", what, line)
		}
	case <-time.After(20 * time.Second):
		b.Fatalf("%s not ready in 20s", what)
	}
	return stdin, out
}

// runMember is the member process: it joins every group of spec, reads
// until its stdin closes, and returns the exit code.
func runMember(spec string) int {
	ns, groups, _ := strings.Cut(spec, ";")
	ctx := context.Background()
	c, err := cpg.Dial(ctx, client.WithDialer(transport.NewDialer(transport.Config{NetNS: ns})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		return 1
	}
	defer c.Close()
	var wg sync.WaitGroup
	for _, name := range strings.Split(groups, ",") {
		g, err := c.Join(ctx, name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "member:", err)
			return 1
		}
		defer g.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range g.All(ctx) {
				if err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
	c.Close()
	return 0
}

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1047552B", cpg.MaxAtomicMessage}, {"4MiB", 4 << 20}}

// BenchmarkCPG compares this module's cpg client with C libcpg on one real
// 3-node cluster, in one run: throughput (a sender on node 1, a receiver on
// node 2, b.N messages until the receiver has them all) and delivery
// latency (a member on node 1 sends and waits for its own delivery, which
// goes through totem's total order; the group's other member, on node 2,
// is a separate process: memberProcess).
//
//	go test -tags oracle -run '^$' -bench BenchmarkCPG ./internal/testkit/oracle/cpgoracle/
//
// benchWait bounds a throughput run: a lost message fails the run instead
// of hanging it.
const benchWait = 2 * time.Minute

func BenchmarkCPG(b *testing.B) {
	corotest.Require(b)
	cl := corotest.Start(b, 3, corotest.Options{})
	if err := cl.WaitFormed(30 * time.Second); err != nil {
		b.Fatal(err)
	}
	n1, n2 := cl.Node(1), cl.Node(2)
	ctx := context.Background()
	var seq atomic.Int64
	gname := func() string { return fmt.Sprintf("bench-%d", seq.Add(1)) }

	goJoin := func(b *testing.B, n *corotest.Node, g string, pid uint32) (*cpg.Client, *cpg.Group) {
		c, err := cpg.Dial(ctx, client.WithDialer(n.Dialer()))
		if err != nil {
			b.Fatal(err)
		}
		grp, err := c.Join(ctx, g, cpg.WithPID(pid))
		if err != nil {
			b.Fatal(err)
		}
		return c, grp
	}
	cJoin := func(b *testing.B, n *corotest.Node, g string) *Client {
		c, err := Open(n.NetNSPath(), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Join(cpgwire.Name(g)); err != nil {
			b.Fatal(err)
		}
		return c
	}
	cSend := func(c *Client, msg []byte) {
		for c.McastJoined(cpgwire.GuaranteeAgreed, msg) != nil {
			time.Sleep(50 * time.Microsecond) // TRY_AGAIN: flow control
		}
	}
	// cCount dispatches c until it has delivered n messages.
	cCount := func(c *Client, n int, stop <-chan struct{}) int {
		got := 0
		for got < n {
			select {
			case <-stop:
				return got
			default:
			}
			evs, err := c.Poll(10 * time.Millisecond)
			if err != nil {
				return got
			}
			for _, e := range evs {
				if e.ID == cpgwire.EvDeliver {
					got++
				}
			}
		}
		return got
	}
	var lastErr atomic.Pointer[error] // why a goCount stopped short
	goCount := func(ctx context.Context, g *cpg.Group, n int) int {
		got := 0
		for got < n {
			ev, err := g.Next(ctx)
			if err != nil {
				e := err // only a failing call's error escapes
				lastErr.Store(&e)
				return got
			}
			if ev.Kind == corosync.EventMessage {
				got++
			}
		}
		return got
	}
	pid := uint32(os.Getpid())

	for _, sz := range benchSizes {
		msg := make([]byte, sz.n)
		b.Run("throughput/go/"+sz.name, func(b *testing.B) {
			g := gname()
			cs, s := goJoin(b, n1, g, pid+1)
			defer cs.Close()
			cr, r := goJoin(b, n2, g, pid+2)
			defer cr.Close()
			b.SetBytes(int64(sz.n))
			done := make(chan struct{})
			rctx, fail := context.WithTimeout(ctx, benchWait) // a failed send ends the readers
			defer fail()
			go func() { goCount(rctx, s, b.N); close(done) }() // the sender's own deliveries
			b.ResetTimer()
			start := time.Now()
			go func() {
				for i := range b.N {
					if err := s.Send(ctx, msg, cpg.Agreed); err != nil {
						b.Errorf("send %d of %d: %v", i+1, b.N, err)
						fail()
						return
					}
				}
			}()
			if got := goCount(rctx, r, b.N); got < b.N {
				b.Errorf("the receiver read %d of %d messages: %v", got, b.N, *lastErr.Load())
			}
			el := time.Since(start)
			b.StopTimer()
			<-done
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
		})
		b.Run("throughput/libcpg/"+sz.name, func(b *testing.B) {
			g := gname()
			s := cJoin(b, n1, g)
			defer s.Finalize()
			r := cJoin(b, n2, g)
			defer r.Finalize()
			b.SetBytes(int64(sz.n))
			stop := make(chan struct{}) // closed after the run, or when it takes too long
			var once sync.Once
			end := func() { once.Do(func() { close(stop) }) }
			timer := time.AfterFunc(benchWait, end)
			defer timer.Stop()
			done := make(chan struct{})
			go func() { cCount(s, b.N, stop); close(done) }()
			b.ResetTimer()
			start := time.Now()
			go func() {
				for range b.N {
					cSend(s, msg)
				}
			}()
			if got := cCount(r, b.N, stop); got < b.N {
				b.Errorf("the libcpg receiver read %d of %d messages in %v", got, b.N, benchWait)
			}
			el := time.Since(start)
			b.StopTimer()
			<-done
			end()
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
		})
	}
	latency := func(b *testing.B, ping func()) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			ping()
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, "", lat)
	}
	b.Run("latency/go/64B", func(b *testing.B) {
		g := gname()
		c, s := goJoin(b, n1, g, pid+3)
		defer c.Close()
		memberProcess(b, n2, g) // a second node in the group
		msg := make([]byte, 64)
		latency(b, func() {
			if err := s.Send(ctx, msg, cpg.Agreed); err != nil {
				b.Fatal(err)
			}
			goCount(ctx, s, 1)
		})
	})
	b.Run("latency/libcpg/64B", func(b *testing.B) {
		g := gname()
		s := cJoin(b, n1, g)
		defer s.Finalize()
		memberProcess(b, n2, g) // the same second node as for Go
		msg := make([]byte, 64)
		latency(b, func() {
			cSend(s, msg)
			cCount(s, 1, nil)
		})
	})
	// Both clients in one run, alternating per round trip, so that they
	// share the machine's moments (the separate runs above are sequential).
	b.Run("latency/interleaved/64B", func(b *testing.B) {
		gg, cg := gname(), gname()
		c, s := goJoin(b, n1, gg, pid+5)
		defer c.Close()
		cs := cJoin(b, n1, cg)
		defer cs.Finalize()
		// The other member of each group, on node 2, is the same client in
		// another process, so that both groups load the shared machine
		// alike at each delivery: only the measured client differs.
		memberProcess(b, n2, gg, cg)
		msg := make([]byte, 64)
		goLat := make([]time.Duration, 0, b.N)
		cLat := make([]time.Duration, 0, b.N)
		var goSend, cSent []time.Duration // the send alone
		b.ResetTimer()
		for i := range b.N {
			goFirst := i%2 == 0
			for k := range 2 {
				t0 := time.Now()
				if (k == 0) == goFirst {
					if err := s.Send(ctx, msg, cpg.Agreed); err != nil {
						b.Fatal(err)
					}
					goSend = append(goSend, time.Since(t0))
					goCount(ctx, s, 1)
					goLat = append(goLat, time.Since(t0))
				} else {
					cSend(cs, msg)
					cSent = append(cSent, time.Since(t0))
					cCount(cs, 1, nil)
					cLat = append(cLat, time.Since(t0))
				}
			}
		}
		b.StopTimer()
		reportLatency(b, "go-", goLat)
		reportLatency(b, "libcpg-", cLat)
		reportLatency(b, "go-send-", goSend)
		reportLatency(b, "libcpg-send-", cSent)
	})
	// Each measured client alone in a process of its own (startPinger),
	// the two alternating per round trip: the same moments of the machine,
	// and no runtime shared between them.
	b.Run("latency/processes/64B", func(b *testing.B) {
		gg, cg := gname(), gname()
		memberProcess(b, n2, gg, cg)
		pg := startPinger(b, "go", n1, gg)
		pc := startPinger(b, "libcpg", n1, cg)
		for range 50 { // both warm: first deliveries, page faults
			pg.ping(b)
			pc.ping(b)
		}
		goLat := make([]time.Duration, 0, b.N)
		cLat := make([]time.Duration, 0, b.N)
		var goSend, cSent []time.Duration
		b.ResetTimer()
		for i := range b.N {
			order := []*pinger{pg, pc}
			if i%2 == 1 {
				order = []*pinger{pc, pg}
			}
			for _, p := range order {
				send, rtt := p.ping(b)
				if p == pg {
					goSend, goLat = append(goSend, send), append(goLat, rtt)
				} else {
					cSent, cLat = append(cSent, send), append(cLat, rtt)
				}
			}
		}
		b.StopTimer()
		reportLatency(b, "go-", goLat)
		reportLatency(b, "libcpg-", cLat)
		reportLatency(b, "go-send-", goSend)
		reportLatency(b, "libcpg-send-", cSent)
	})
}

// reportLatency reports the p50 and p99 of lat (sorted in place) as
// prefix+"p50-µs" and prefix+"p99-µs".
func reportLatency(b *testing.B, prefix string, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), prefix+"p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), prefix+"p99-µs")
}
