//go:build oracle && linux

package cpgoracle

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

// pingerEnv makes the test binary a pinger process: "go|libcpg;netns;group".
const pingerEnv = "CPGORACLE_PINGER"

// pinger is a client measured in a process of its own: on each line read
// from its stdin it sends 64 bytes to its group and waits for its own
// delivery, and writes back "<send ns> <round trip ns>". Nothing else runs
// in its process, so neither client's runtime (Go scheduler, cgo calls)
// touches the other's measurement, while the parent alternates them so that
// both meet the same moments of the machine.
type pinger struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func startPinger(b *testing.B, kind string, n *corotest.Node, group string) *pinger {
	in, out := child(b, kind+" pinger", pingerEnv+"="+kind+";"+n.NetNSPath()+";"+group)
	return &pinger{in: in, out: out}
}

// ping asks for one round trip and returns the send and round-trip times.
func (p *pinger) ping(b *testing.B) (send, rtt time.Duration) {
	if _, err := io.WriteString(p.in, "p\n"); err != nil {
		b.Fatal(err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatalf("pinger: %v", err)
	}
	var s, r int64
	if _, err := fmt.Sscan(line, &s, &r); err != nil {
		b.Fatalf("pinger answered %q", line)
	}
	return time.Duration(s), time.Duration(r)
}

// runPinger is the pinger process; it returns the exit code.
func runPinger(spec string) int {
	parts := strings.SplitN(spec, ";", 3)
	if len(parts) != 3 {
		fmt.Fprintf(os.Stderr, "pinger: bad spec %q\n", spec)
		return 2
	}
	kind, ns, group := parts[0], parts[1], parts[2]
	ctx := context.Background()
	msg := make([]byte, 64)
	var roundTrip func() (time.Duration, time.Duration, error)
	switch kind {
	case "go":
		c, err := cpg.Dial(ctx, client.WithDialer(transport.NewDialer(transport.Config{NetNS: ns})))
		if err != nil {
			fmt.Fprintln(os.Stderr, "pinger:", err)
			return 1
		}
		defer c.Close()
		g, err := c.Join(ctx, group)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pinger:", err)
			return 1
		}
		defer g.Close()
		roundTrip = func() (time.Duration, time.Duration, error) {
			t0 := time.Now()
			if err := g.Send(ctx, msg, cpg.Agreed); err != nil {
				return 0, 0, err
			}
			sent := time.Since(t0)
			for {
				ev, err := g.Next(ctx)
				if err != nil {
					return 0, 0, err
				}
				if ev.Kind == corosync.EventMessage {
					return sent, time.Since(t0), nil
				}
			}
		}
	case "libcpg":
		c, err := Open(ns, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pinger:", err)
			return 1
		}
		defer c.Finalize()
		if err := c.Join(cpgwire.Name(group)); err != nil {
			fmt.Fprintln(os.Stderr, "pinger:", err)
			return 1
		}
		roundTrip = func() (time.Duration, time.Duration, error) {
			t0 := time.Now()
			for c.McastJoined(cpgwire.GuaranteeAgreed, msg) != nil {
				time.Sleep(50 * time.Microsecond) // TRY_AGAIN: flow control
			}
			sent := time.Since(t0)
			for {
				evs, err := c.Poll(time.Second)
				if err != nil {
					return 0, 0, err
				}
				for _, e := range evs {
					if e.ID == cpgwire.EvDeliver {
						return sent, time.Since(t0), nil
					}
				}
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "pinger: kind %q\n", kind)
		return 2
	}
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	for {
		if _, err := in.ReadString('\n'); err != nil {
			return 0 // the parent closed stdin
		}
		send, rtt, err := roundTrip()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pinger:", err)
			return 1
		}
		fmt.Fprintln(out, int64(send), int64(rtt))
		out.Flush()
	}
}
