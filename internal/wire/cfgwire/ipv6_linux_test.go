package cfgwire

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// TestDaemonSkipsIPv6Addrs confirms the 3.1.7 get_node_addrs bug: an IPv6
// address whose first 16-bit group is zero (here ::1) is not counted,
// although the reply has room for it. A single node is restarted with two
// links: ring0_addr ::1 and ring1_addr fd00::1.
func TestDaemonSkipsIPv6Addrs(t *testing.T) {
	corotest.Require(t)
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", n.NS, "addr", "add", "fd00::1/128", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("add fd00::1: %v: %s", err, out)
	}
	conf, err := os.ReadFile(n.ConfPath())
	if err != nil {
		t.Fatal(err)
	}
	v6 := strings.Replace(string(conf), "ring0_addr: 127.0.0.1", "ring0_addr: ::1\n\t\tring1_addr: fd00::1", 1)
	if v6 == string(conf) {
		t.Fatalf("corotest config changed shape:\n%s", conf)
	}
	if err := os.WriteFile(n.ConfPath(), []byte(v6), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("%v\n%s", err, n.Log())
	}
	s := dialCfg(t, n, "v6")
	r, b := s.do(Request{ID: ReqGetNodeAddrs, NodeID: 1}, "addrs-ipv6-skip")
	if r.Error != corosync.OK {
		t.Fatalf("get_node_addrs: %+v", r)
	}
	a := r.Addrs
	t.Logf("reply %d bytes: family %d, num_addrs %d, slots %d, addrs %v", len(b), a.Family, len(a.Addrs), a.Slots, a.Addrs)
	if a.Family != AFInet6 || a.Slots != 2 || len(a.Addrs) != 1 || a.Addrs[0] != netip.MustParseAddr("fd00::1") {
		t.Errorf("want family 10, 2 slots, only fd00::1 counted")
	}
	if out, err := n.Exec(ctx, "corosync-cfgtool", "-a", "1"); err == nil {
		t.Logf("corosync-cfgtool -a 1: %v: %q", err, out)
	}
	// The old ring status call on the same node.
	r, _ = s.do(Request{ID: ReqRingStatusGet}, "ringstatus-ipv6")
	t.Logf("ring status: %+v", r.Rings)
}
