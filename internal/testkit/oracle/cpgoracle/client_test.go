//go:build oracle && linux

package cpgoracle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

func cmember(a cpgwire.Address) cpg.Member {
	return cpg.Member{NodeID: a.NodeID, PID: a.PID, Reason: cpg.Reason(a.Reason)}
}

func cmembers(as []cpgwire.Address) []cpg.Member {
	out := make([]cpg.Member, len(as))
	for i, a := range as {
		out[i] = cmember(a)
	}
	return out
}

// ckey and gokey render a libcpg event and a cpg.Event the same way:
// messages (sender, length, digest) and group confchgs.
func ckey(e cpgwire.Event) string {
	switch e.ID {
	case cpgwire.EvDeliver:
		return mkey(cpg.Member{NodeID: e.NodeID, PID: e.PID}, e.Payload)
	case cpgwire.EvConfchg:
		return fmt.Sprintf("c %v %v %v", cmembers(e.Members), cmembers(e.Joined), cmembers(e.Left))
	}
	return ""
}

func gokey(e cpg.Event) string {
	switch e.Kind {
	case corosync.EventMessage:
		return mkey(e.Sender, e.Data)
	case corosync.EventConfchg:
		return fmt.Sprintf("c %v %v %v", e.Members, e.Joined, e.Left)
	}
	return ""
}

func mkey(s cpg.Member, b []byte) string {
	if len(b) > 32 {
		return fmt.Sprintf("m %s %d bytes %x..%x", s, len(b), b[:16], b[len(b)-16:])
	}
	return fmt.Sprintf("m %s %q", s, b)
}

// TestClientInterop: on each node of a real cluster a cpg.Group and a C
// libcpg client join one group, and all six send concurrently (the Go
// members also a 2 MiB message, sent in fragments, and libcpg on node 1 a
// 1.5 MiB one). On every node the Go
// member's stream of messages and confchgs equals the C member's, from the
// confchg that completed the group on.
func TestClientInterop(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 3, corotest.Options{})
	if err := cl.WaitFormed(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const group = "interop2"
	const perMember = 100
	gopid := uint32(os.Getpid()) + 100000 // libcpg joins with getpid()
	var gos []*cpg.Group
	var cs []*Client
	for _, n := range cl.Nodes {
		c, err := cpg.Dial(ctx, client.WithDialer(n.Dialer()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		g, err := c.Join(ctx, group, cpg.WithPID(gopid))
		if err != nil {
			t.Fatal(err)
		}
		gos = append(gos, g)
		cc, err := Open(n.NetNSPath(), cpgwire.ModelV1DeliverInitialTotemConf)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Finalize()
		if err := cc.Join(group); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, cc)
	}
	total := 2 * len(cl.Nodes) * perMember
	large := bytes.Repeat([]byte("L"), 2<<20+3)
	total += len(cl.Nodes) // libcpg on node 1 sends one of its messages large (fragmented by libcpg)
	clarge := bytes.Repeat([]byte("C"), 3<<19+7)

	var wg sync.WaitGroup
	for i := range cl.Nodes {
		g, cc := gos[i], cs[i]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for k := range perMember {
				if k == perMember/2 {
					if err := g.Send(ctx, large, cpg.Agreed); err != nil {
						t.Error(err)
						return
					}
				}
				if err := g.Send(ctx, fmt.Appendf(nil, "go %d %d", i+1, k), cpg.Agreed); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for k := range perMember {
				msg := fmt.Appendf(nil, "c %d %d", i+1, k)
				if i == 0 && k == perMember/3 {
					msg = clarge
				}
				for {
					err := cc.McastJoined(cpgwire.GuaranteeAgreed, msg)
					if err == nil {
						break
					}
					time.Sleep(time.Millisecond) // TRY_AGAIN
				}
			}
		}()
	}
	streams := make([][2][]string, len(cl.Nodes))
	for i := range cl.Nodes {
		g, cc := gos[i], cs[i]
		wg.Add(2)
		go func() { // Go member
			defer wg.Done()
			var s []string
			msgs := 0
			for msgs < total {
				ev, err := g.Next(ctx)
				if err != nil {
					t.Errorf("node %d go: %v", i+1, err)
					break
				}
				if k := gokey(ev); k != "" {
					s = append(s, k)
				}
				if ev.Kind == corosync.EventMessage {
					msgs++
				}
			}
			streams[i][0] = s
		}()
		go func() { // C member: dispatched on its own goroutine
			defer wg.Done()
			var s []string
			msgs := 0
			for msgs < total && ctx.Err() == nil {
				evs, err := cc.Poll(20 * time.Millisecond)
				if err != nil {
					t.Errorf("node %d libcpg: %v", i+1, err)
					break
				}
				for _, e := range evs {
					if k := ckey(e); k != "" {
						s = append(s, k)
					}
					if e.ID == cpgwire.EvDeliver {
						msgs++
					}
				}
			}
			streams[i][1] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	from := func(s []string) []string {
		for i, k := range s {
			if strings.HasPrefix(k, "c ") && strings.Count(k[:strings.Index(k, "]")], "/") == 2*len(cl.Nodes) {
				return s[i:]
			}
		}
		t.Fatalf("no confchg of the full group in %v", s)
		return nil
	}
	ref := from(streams[0][1])
	for i := range cl.Nodes {
		for j, who := range []string{"go", "libcpg"} {
			if s := from(streams[i][j]); !slices.Equal(s, ref) {
				t.Errorf("node %d %s: %d events differ from node 1 libcpg's %d:\n%s\nvs\n%s", i+1, who, len(s), len(ref),
					strings.Join(s[:min(len(s), 20)], "\n"), strings.Join(ref[:min(len(ref), 20)], "\n"))
			}
		}
	}
	t.Logf("6 members, %d events each from the full group on, identical (Go and libcpg on every node)", len(ref))
	for _, g := range gos {
		g.Close()
	}
}
