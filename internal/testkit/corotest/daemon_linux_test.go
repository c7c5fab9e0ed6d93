package corotest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEveryDaemonFormsCluster starts a 3-node cluster with every daemon of
// the matrix (Daemons), checks quorum, kills node 3 and sees the other two
// carry on. Under COROSYNC_GO_INTEGRATION=require every daemon of
// MatrixDaemons must be there (`make daemons` builds them).
func TestEveryDaemonFormsCluster(t *testing.T) {
	require(t, missingHost())
	ds := Daemons()
	var have []string
	for _, d := range ds {
		have = append(have, d.Name)
	}
	var missing []string
	for _, name := range MatrixDaemons {
		if !slices.Contains(have, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("daemons %v missing from the matrix (have %v; run `make daemons`)", missing, have)
		if os.Getenv(EnvRequire) == "require" {
			t.Fatalf("%s (%s=require)", msg, EnvRequire)
		}
		t.Logf("\n*** %s ***", msg)
	}
	for _, d := range ds {
		t.Run(d.Name, func(t *testing.T) {
			t.Logf("%s: prefix %s, %s, knet %v, -c %v, libqb 1.0 %v", d, d.Prefix, d.LibQB, d.Knet(), d.HasDashC(), d.QB1())
			start := time.Now()
			c := Start(t, 3, Options{Daemon: &d, TokenMS: 300})
			t.Logf("formed in %v", time.Since(start).Round(time.Millisecond))
			if c.Daemon().Name != d.Name || c.Node(2).Daemon().Name != d.Name {
				t.Fatalf("cluster runs %v, want %v", c.Daemon(), d)
			}
			for _, n := range c.Nodes {
				exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", n.Pid()))
				if err != nil || exe != d.Bin("corosync") {
					t.Fatalf("node %d runs %q (%v), want %s", n.ID, exe, err, d.Bin("corosync"))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			q, out, err := c.Node(1).QuorumTool(ctx)
			if err != nil || !q {
				t.Fatalf("corosync-quorumtool -s: quorate %v, %v\n%s", q, err, out)
			}
			// The node's own tools answer, and their output parses.
			transport := "knet"
			if !d.Knet() {
				transport = "udpu"
			}
			found := false
			for _, l := range c.Node(1).Cmapctl(t) {
				if l.Key == "totem.transport" {
					found = true
					if l.Text != transport {
						t.Errorf("totem.transport = %q, want %q", l.Text, transport)
					}
				}
			}
			if !found {
				t.Errorf("corosync-cmapctl lists no totem.transport")
			}
			if out, err := c.Node(1).Exec(ctx, "corosync-cfgtool", "-s"); err != nil {
				t.Errorf("corosync-cfgtool -s: %v\n%s", err, out)
			}

			if err := c.Node(3).Kill(); err != nil {
				t.Fatal(err)
			}
			for _, id := range []uint32{1, 2} {
				if err := c.Node(id).WaitMembers(ctx, 1, 2); err != nil {
					t.Fatalf("after killing node 3: %v\n%s", err, c.Node(id).Log())
				}
			}
			if q, out, err := c.Node(2).QuorumTool(ctx); err != nil || !q {
				t.Fatalf("2 of 3 nodes: quorate %v, %v\n%s", q, err, out)
			}
			for _, n := range c.Nodes[:2] {
				if err := n.Stop(); err != nil {
					t.Fatal(err)
				}
				if n.Running() {
					t.Fatalf("node %d still running after Stop", n.ID)
				}
			}
		})
	}
}

// TestConfigPerDaemon checks the corosync.conf each kind of daemon gets; the
// system daemon's is the one corotest always wrote.
func TestConfigPerDaemon(t *testing.T) {
	system := Daemon{Name: SystemDaemon, Prefix: "/usr", Version: "3.1.7", Major: 3, Minor: 1, LibQB: "libqb.so.100"}
	v24 := Daemon{Name: "2.4.6", Prefix: "/x", Version: "2.4.6", Major: 2, Minor: 4, LibQB: "libqb.so.100"}
	qb1 := Daemon{Name: "3.1.10-qb1.0.3", Prefix: "/y", Version: "3.1.10", Major: 3, Minor: 1, LibQB: "libqb.so.0"}
	cluster := func(d Daemon) (*Cluster, *Node) {
		c := &Cluster{tag: "cgtest", opts: Options{TokenMS: 1000}, d: d}
		for i := uint32(1); i <= 2; i++ {
			c.Nodes = append(c.Nodes, &Node{c: c, ID: i, Addr: fmt.Sprintf("192.0.2.%d", i), Dir: fmt.Sprintf("/t/node%d", i)})
		}
		return c, c.Nodes[0]
	}
	c, n := cluster(system)
	want := `totem {
	version: 2
	cluster_name: cgtest
	transport: knet
	crypto_cipher: none
	crypto_hash: none
	token: 1000
	token_coefficient: 0
}
logging {
	to_logfile: yes
	logfile: /t/node1/corosync.log
	to_syslog: no
	to_stderr: no
	timestamp: on
}
quorum {
	provider: corosync_votequorum
}
nodelist {
	node {
		ring0_addr: 192.0.2.1
		nodeid: 1
		name: node1
	}
	node {
		ring0_addr: 192.0.2.2
		nodeid: 2
		name: node2
	}
}
system {
	state_dir: /t/node1/state
}
`
	if got := c.config(n); got != want {
		t.Errorf("system config:\n%s\nwant:\n%s", got, want)
	}
	c, n = cluster(v24)
	got := c.config(n)
	if !strings.Contains(got, "\ttransport: udpu\n") || strings.Contains(got, "knet") || strings.Contains(got, "system {") || strings.Contains(got, "hires") {
		t.Errorf("2.4 config:\n%s", got)
	}
	if strings.Replace(got, "udpu", "knet", 1) != strings.TrimSuffix(want, "system {\n\tstate_dir: /t/node1/state\n}\n") {
		t.Errorf("2.4 config differs from the system's beyond transport and system:\n%s", got)
	}
	c, n = cluster(qb1)
	got = c.config(n)
	if !strings.HasSuffix(got, "system {\n\tstate_dir: /t/node1/state\n\tsched_rr: no\n}\n") || strings.Count(got, "system {") != 1 {
		t.Errorf("libqb 1.0 config:\n%s", got)
	}
}

func TestDaemonTraits(t *testing.T) {
	for _, tc := range []struct {
		d                Daemon
		knet, dashC, qb1 bool
	}{
		{Daemon{Major: 2, Minor: 4, LibQB: "libqb.so.100"}, false, false, false},
		{Daemon{Major: 3, Minor: 0, LibQB: "libqb.so.100"}, true, true, false},
		{Daemon{Major: 3, Minor: 1, LibQB: "libqb.so.0"}, true, true, true},
	} {
		if tc.d.Knet() != tc.knet || tc.d.HasDashC() != tc.dashC || tc.d.QB1() != tc.qb1 {
			t.Errorf("%+v: knet %v -c %v qb1 %v", tc.d, tc.d.Knet(), tc.d.HasDashC(), tc.d.QB1())
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2.4.6", "3.0.4", -1}, {"3.1.10", "3.1.7", 1}, {"3.1.10", "3.1.10.65235a81", -1}, {"3.1.10", "3.1.10", 0},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	d := Daemon{Name: "x", Prefix: "/nonexistent"}
	if got := d.resolveTool("corosync-cmapctl"); got != "corosync-cmapctl" {
		t.Errorf("a tool the prefix lacks resolves to %q", got)
	}
	for _, d := range Daemons() {
		if p := d.resolveTool("corosync-quorumtool"); p != d.Bin("corosync-quorumtool") {
			t.Errorf("%v: corosync-quorumtool resolves to %q", d, p)
		}
		if p := d.resolveTool("ip"); p != "ip" {
			t.Errorf("%v: ip resolves to %q", d, p)
		}
		if d.Version == "" || d.Major < 2 || d.LibQB == "" {
			t.Errorf("daemon %+v: version or libqb unknown", d)
		}
	}
}

func TestDefaultDaemon(t *testing.T) {
	t.Setenv(EnvDaemon, "no-such-build")
	d := DefaultDaemon()
	if d.Name != "no-such-build" || d.Prefix != "" || !strings.Contains(d.Missing(), "not built") {
		t.Errorf("unbuilt default daemon: %+v, missing %q", d, d.Missing())
	}
	if !strings.Contains(Missing(), "not built") && missingHost() == "" {
		t.Errorf("Missing() = %q with an unbuilt COROSYNC_GO_DAEMON", Missing())
	}
	t.Setenv(EnvDaemon, "")
	if d := DefaultDaemon(); d.Name != SystemDaemon {
		t.Errorf("default daemon %v, want system", d)
	}
}
