//go:build linux

// Package corotest starts real corosync daemons for integration tests.
//
// Each node runs in its own network namespace (its own abstract @quorum
// socket) and mount namespace (its own /run, for the compiled-in
// /var/run/corosync.pid), with its config, state_dir and log in a temporary
// directory. A single node talks over loopback; a cluster's nodes are joined
// by veth pairs to bridges in a namespace of their own, on 192.0.2.0/24
// (TEST-NET-1), so nothing leaves the machine and nothing collides with a
// corosync already running on it. /dev/shm is shared with the host, so the
// test process can map the IPC rings.
//
// Tests call Require first: without root, corosync or iproute2 the test is
// skipped with a loud reason, or fails when COROSYNC_GO_INTEGRATION=require
// (as in CI).
//
// Clusters run the daemon that COROSYNC_GO_DAEMON names (daemon.go): the
// system's corosync by default, or a build of scripts/build-daemons.sh
// (Options.Daemon picks one per cluster). Each node runs that daemon's own
// corosync and tools, with the configuration adapted to its version.
package corotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// EnvRequire names the variable that turns missing prerequisites into
// failures: COROSYNC_GO_INTEGRATION=require.
const EnvRequire = "COROSYNC_GO_INTEGRATION"

// Missing returns why real-daemon tests cannot run here with the default
// daemon (DefaultDaemon), or "".
func Missing() string {
	if why := missingHost(); why != "" {
		return why
	}
	return DefaultDaemon().Missing()
}

// missingHost returns why no daemon can run here, or "".
func missingHost() string {
	if os.Geteuid() != 0 {
		return "not root (network and mount namespaces need root)"
	}
	for _, bin := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not found (run ./scripts/install-deps.sh)"
		}
	}
	return ""
}

// Require skips t loudly when real-daemon tests cannot run, or fails it when
// COROSYNC_GO_INTEGRATION=require.
func Require(t testing.TB) {
	t.Helper()
	require(t, Missing())
}

// RequireDaemon is Require for daemon d rather than the default one.
func RequireDaemon(t testing.TB, d Daemon) {
	t.Helper()
	why := missingHost()
	if why == "" {
		why = d.Missing()
	}
	require(t, why)
}

func require(t testing.TB, why string) {
	t.Helper()
	if why == "" && testing.Short() && os.Getenv(EnvRequire) != "require" {
		why = "-short"
	}
	if why == "" {
		return
	}
	if os.Getenv(EnvRequire) == "require" {
		t.Fatalf("INTEGRATION TEST CANNOT RUN: %s (%s=require)", why, EnvRequire)
	}
	t.Skipf("\n*** INTEGRATION TEST SKIPPED: %s. Run `make test` as root to run it. ***", why)
}

// Options tune a cluster.
type Options struct {
	// TokenMS is totem's token timeout; membership changes land in about
	// two tokens. Default 1000.
	TokenMS int
	// NoProvider runs without a quorum provider (QUORUM_FREE).
	NoProvider bool
	// TwoNode sets votequorum's two_node.
	TwoNode bool
	// Votequorum adds votequorum settings (votequorum.go).
	Votequorum Votequorum
	// AllowUsers lists users besides root that may use corosync's IPC
	// (uidgid sections).
	AllowUsers []string
	// Daemon is the corosync the nodes run; nil: DefaultDaemon().
	Daemon *Daemon
	// Links is the number of knet links between the nodes: 0 or 1 for one
	// (ring0_addr, 192.0.2.0/24), 2 adds a second (ring1_addr,
	// 198.51.100.0/24) on bridges of its own. Two links need knet (3.x)
	// and more than one node. Node.CutLink cuts one link of a node.
	Links int
}

// Cluster is a set of corosync nodes.
type Cluster struct {
	t      testing.TB
	tag    string
	dir    string
	bridge string // bridge namespace; "" for a single node
	opts   Options
	d      Daemon
	Nodes  []*Node

	mu   sync.Mutex
	pids []int // every daemon ever started, for the final clean-up
}

// Node is one corosync daemon.
type Node struct {
	c    *Cluster
	ID   uint32
	NS   string // network namespace name
	Addr string
	// Addr1 is the node's address on the second knet link ("" without
	// Options.Links 2).
	Addr1 string
	Dir   string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	lastExit string // how the last daemon process ended (ExitStatus)
}

func randTag() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "cg" + hex.EncodeToString(b)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Start starts an n-node cluster (1..5) and waits until every node sees all
// of them. Everything is torn down when the test ends.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	var d Daemon
	if opts.Daemon == nil {
		Require(t)
		d = DefaultDaemon()
	} else {
		d = *opts.Daemon
		RequireDaemon(t, d)
	}
	if n < 1 || n > 5 {
		t.Fatalf("corotest: %d nodes; 1 to 5 supported", n)
	}
	if opts.Links > 2 || (opts.Links == 2 && (n == 1 || !d.Knet())) {
		t.Fatalf("corotest: %d links on %d nodes of %s; a second link needs knet and more than one node", opts.Links, n, d)
	}
	if opts.TokenMS == 0 {
		opts.TokenMS = 1000
	}
	shareHost(t)
	c := &Cluster{t: t, tag: randTag(), dir: t.TempDir(), opts: opts, d: d}
	t.Cleanup(c.destroy)
	if n > 1 {
		c.bridge = c.tag + "br"
		must(t, run("ip", "netns", "add", c.bridge))
		for g := 0; g < 5; g++ {
			must(t, run("ip", "-n", c.bridge, "link", "add", fmt.Sprintf("br%d", g), "type", "bridge"))
			must(t, run("ip", "-n", c.bridge, "link", "set", fmt.Sprintf("br%d", g), "up"))
			if opts.Links == 2 {
				must(t, run("ip", "-n", c.bridge, "link", "add", fmt.Sprintf("bl%d", g), "type", "bridge"))
				must(t, run("ip", "-n", c.bridge, "link", "set", fmt.Sprintf("bl%d", g), "up"))
			}
		}
	}
	for i := 1; i <= n; i++ {
		nd := &Node{c: c, ID: uint32(i), NS: fmt.Sprintf("%sn%d", c.tag, i), Dir: filepath.Join(c.dir, fmt.Sprintf("node%d", i))}
		must(t, os.MkdirAll(filepath.Join(nd.Dir, "state"), 0o755))
		must(t, run("ip", "netns", "add", nd.NS))
		must(t, run("ip", "-n", nd.NS, "link", "set", "lo", "up"))
		if n == 1 {
			nd.Addr = "127.0.0.1"
		} else {
			nd.Addr = fmt.Sprintf("192.0.2.%d", i)
			v, b := fmt.Sprintf("v%d", i), fmt.Sprintf("%sb%d", c.tag, i)
			must(t, run("ip", "-n", nd.NS, "link", "add", v, "type", "veth", "peer", "name", b, "netns", c.bridge))
			must(t, run("ip", "-n", nd.NS, "addr", "add", nd.Addr+"/24", "dev", v))
			must(t, run("ip", "-n", nd.NS, "link", "set", v, "up"))
			must(t, run("ip", "-n", c.bridge, "link", "set", b, "master", "br0", "up"))
			if opts.Links == 2 {
				nd.Addr1 = fmt.Sprintf("198.51.100.%d", i)
				w, b1 := fmt.Sprintf("w%d", i), fmt.Sprintf("%sc%d", c.tag, i)
				must(t, run("ip", "-n", nd.NS, "link", "add", w, "type", "veth", "peer", "name", b1, "netns", c.bridge))
				must(t, run("ip", "-n", nd.NS, "addr", "add", nd.Addr1+"/24", "dev", w))
				must(t, run("ip", "-n", nd.NS, "link", "set", w, "up"))
				must(t, run("ip", "-n", c.bridge, "link", "set", b1, "master", "bl0", "up"))
			}
		}
		c.Nodes = append(c.Nodes, nd)
	}
	for _, nd := range c.Nodes {
		must(t, os.WriteFile(nd.ConfPath(), []byte(c.config(nd)), 0o644))
	}
	for _, nd := range c.Nodes {
		must(t, nd.Start())
	}
	if err := c.WaitFormed(60 * time.Second); err != nil {
		// On a loaded machine totem can miss its token for long enough
		// that the nodes keep re-forming apart. The cluster is the test's
		// ground, not its subject: start it once more, from scratch.
		t.Logf("corotest: %s: %v\n*** corotest: restarting every node once ***", d, err)
		for _, nd := range c.Nodes {
			nd.Kill()
		}
		for _, nd := range c.Nodes {
			must(t, nd.Start())
		}
		if err := c.WaitFormed(90 * time.Second); err != nil {
			t.Fatalf("corotest: %s: %v", d, err)
		}
	}
	return c
}

// Daemon returns the corosync the cluster runs.
func (c *Cluster) Daemon() Daemon { return c.d }

// Daemon returns the corosync the node runs.
func (n *Node) Daemon() Daemon { return n.c.d }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("corotest: %v", err)
	}
}

// WaitFormed waits, on every node at once, until each sees all the nodes.
// The first node that fails (its daemon exited, or timeout passed) ends the
// wait with an error carrying its log.
func (c *Cluster) WaitFormed(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	all := c.IDs()
	for _, nd := range c.Nodes {
		g.Go(func() error {
			if err := nd.WaitMembers(ctx, all...); err != nil {
				return fmt.Errorf("cluster did not form: %w\nlog of node %d:\n%s", err, nd.ID, nd.Log())
			}
			return nil
		})
	}
	return g.Wait()
}

// IDs returns the node ids.
func (c *Cluster) IDs() []uint32 {
	var ids []uint32
	for _, n := range c.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

// Node returns node id (1-based).
func (c *Cluster) Node(id uint32) *Node { return c.Nodes[id-1] }

// config returns node nd's corosync.conf, for the cluster's daemon: 2.x has
// no knet (udpu) and no system.state_dir (COROSYNC_RUN_DIR instead, see
// Start); libqb 1.0 cannot give its log thread a real-time priority
// (system.sched_rr off). The log timestamps are "on", which every version
// knows ("hires" is 3.x on libqb 2 only).
func (c *Cluster) config(nd *Node) string {
	transport := "knet"
	if !c.d.Knet() {
		transport = "udpu"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `totem {
	version: 2
	cluster_name: %s
	transport: %s
	crypto_cipher: none
	crypto_hash: none
	token: %d
	token_coefficient: 0
}
logging {
	to_logfile: yes
	logfile: %s
	to_syslog: no
	to_stderr: no
	timestamp: on
}
`, c.tag, transport, c.opts.TokenMS, nd.LogPath())
	if !c.opts.NoProvider {
		b.WriteString("quorum {\n\tprovider: corosync_votequorum\n")
		if c.opts.TwoNode {
			b.WriteString("\ttwo_node: 1\n")
		}
		c.opts.Votequorum.writeQuorum(&b)
		b.WriteString("}\n")
	}
	b.WriteString("nodelist {\n")
	for _, n := range c.Nodes {
		ring1 := ""
		if n.Addr1 != "" {
			ring1 = "\t\tring1_addr: " + n.Addr1 + "\n"
		}
		fmt.Fprintf(&b, "\tnode {\n\t\tring0_addr: %s\n%s\t\tnodeid: %d\n\t\tname: node%d\n%s\t}\n", n.Addr, ring1, n.ID, n.ID, c.opts.Votequorum.nodeKeys(n.ID))
	}
	b.WriteString("}\n")
	if c.d.HasDashC() {
		fmt.Fprintf(&b, "system {\n\tstate_dir: %s\n", nd.StateDir())
		if c.d.QB1() {
			b.WriteString("\tsched_rr: no\n")
		}
		b.WriteString("}\n")
	}
	for _, u := range c.opts.AllowUsers {
		fmt.Fprintf(&b, "uidgid {\n\tuid: %s\n}\n", u)
	}
	return b.String()
}

// Unplug disconnects the node from every bridge (a partition of one).
func (n *Node) Unplug() error {
	if n.Addr1 != "" {
		if err := n.CutLink(1); err != nil {
			return err
		}
	}
	return n.CutLink(0)
}

// linkPort is the bridge-side name of the node's veth on knet link l.
func (n *Node) linkPort(l int) string {
	if l == 1 {
		return fmt.Sprintf("%sc%d", n.c.tag, n.ID)
	}
	return fmt.Sprintf("%sb%d", n.c.tag, n.ID)
}

// CutLink disconnects the node's knet link l (0, or 1 with Options.Links
// 2) from its bridge; the node's other link is left as it is.
func (n *Node) CutLink(l int) error {
	if l < 0 || l > 1 || (l == 1 && n.Addr1 == "") {
		return fmt.Errorf("corotest: node %d has no link %d", n.ID, l)
	}
	return run("ip", "-n", n.c.bridge, "link", "set", n.linkPort(l), "nomaster")
}

// RestoreLink puts the node's knet link l back on the first bridge of that
// link (where Start and Heal put it).
func (n *Node) RestoreLink(l int) error {
	if l < 0 || l > 1 || (l == 1 && n.Addr1 == "") {
		return fmt.Errorf("corotest: node %d has no link %d", n.ID, l)
	}
	br := "br0"
	if l == 1 {
		br = "bl0"
	}
	return run("ip", "-n", n.c.bridge, "link", "set", n.linkPort(l), "master", br)
}

// Split puts each group of nodes on a bridge of its own; nodes in no group
// are unplugged.
func (c *Cluster) Split(groups ...[]uint32) error {
	placed := map[uint32]bool{}
	for g, ids := range groups {
		for _, id := range ids {
			placed[id] = true
			if err := run("ip", "-n", c.bridge, "link", "set", fmt.Sprintf("%sb%d", c.tag, id), "master", fmt.Sprintf("br%d", g)); err != nil {
				return err
			}
			if c.opts.Links == 2 {
				if err := run("ip", "-n", c.bridge, "link", "set", fmt.Sprintf("%sc%d", c.tag, id), "master", fmt.Sprintf("bl%d", g)); err != nil {
					return err
				}
			}
		}
	}
	for _, n := range c.Nodes {
		if !placed[n.ID] {
			if err := n.Unplug(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Heal puts every node back on one bridge.
func (c *Cluster) Heal() error { return c.Split(c.IDs()) }

// ShmFiles lists the /dev/shm IPC directories of connections from this
// process to the daemon with pid serverPid (libqb 2: qb-<server>-<client>-*;
// libqb 1.0: files qb-<service>-{request,response,event}-<server>-<client>-*),
// for leak checks. Other processes' connections (corosync's own tools) are
// not ours to check.
func ShmFiles(serverPid int) []string {
	var all []string
	for _, pat := range []string{"qb-%d-%d-*", "qb-*-request-%d-%d-*", "qb-*-response-%d-%d-*", "qb-*-event-%d-%d-*"} {
		m, _ := filepath.Glob("/dev/shm/" + fmt.Sprintf(pat, serverPid, os.Getpid()))
		all = append(all, m...)
	}
	return all
}

// ShmConnections returns one entry of ShmFiles per connection: its
// directory (libqb 2), or its request ring's header file (libqb 1.0, whose
// six files per connection lie flat in /dev/shm).
func ShmConnections(serverPid int) []string {
	var conns []string
	for _, p := range ShmFiles(serverPid) {
		base := filepath.Base(p)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() ||
			strings.Contains(base, "-request-") && strings.HasSuffix(base, "-header") {
			conns = append(conns, p)
		}
	}
	return conns
}

// destroy stops every daemon gracefully (so each cleans up its clients'
// /dev/shm files), deletes the namespaces, and removes whatever killed
// daemons left in /dev/shm.
func (c *Cluster) destroy() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.signal(syscall.SIGTERM, 10*time.Second) }()
	}
	wg.Wait()
	for _, n := range c.Nodes {
		run("ip", "netns", "del", n.NS)
	}
	if c.bridge != "" {
		run("ip", "netns", "del", c.bridge)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pid := range c.pids {
		for _, pat := range []string{"qb-%d-*", "qb-corosync-%d-*", "qb-*-request-%d-*", "qb-*-response-%d-*", "qb-*-event-%d-*"} {
			m, _ := filepath.Glob("/dev/shm/" + fmt.Sprintf(pat, pid))
			for _, p := range m {
				os.RemoveAll(p)
			}
		}
	}
}

// ErrorLines returns the lines of the node's daemon log at level error or
// worse (error, crit, alert, emerg): what operators alert on.
func (n *Node) ErrorLines() []string {
	var out []string
	for _, l := range strings.Split(n.Log(), "\n") {
		if logErrorLevel.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// logErrorLevel matches a corosync log line (to_logfile, every version of
// the matrix: "<time> [<pid>] <host> corosync <level> [<subsys>] ...") at
// level error or worse.
var logErrorLevel = regexp.MustCompile(` corosync (error|crit|alert|emerg) +\[`)

// ErrorCounts returns the number of ErrorLines of every node, by node id.
func (c *Cluster) ErrorCounts() map[uint32]int {
	m := map[uint32]int{}
	for _, n := range c.Nodes {
		m[n.ID] = len(n.ErrorLines())
	}
	return m
}
