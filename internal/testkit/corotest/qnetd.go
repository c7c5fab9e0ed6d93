//go:build linux

package corotest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// QnetdAddr is the address StartQnetd gives corosync-qnetd on a cluster's
// network.
const QnetdAddr = "192.0.2.100"

// Name returns the cluster's cluster_name.
func (c *Cluster) Name() string { return c.tag }

// Qnetd is a corosync-qnetd server in a network namespace of its own on a
// cluster's network, with the NSS databases (qnetd's and the nodes') made by
// the test with corosync-qnetd-certutil and corosync-qdevice-net-certutil.
type Qnetd struct {
	c   *Cluster
	NS  string
	dir string // certificates, lock files and sockets

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	qdevices map[uint32]*proc
}

type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// QnetdMissing returns why a quorum device cannot be run here, or "".
func QnetdMissing() string {
	for _, bin := range []string{"corosync-qnetd", "corosync-qdevice", "corosync-qnetd-certutil", "corosync-qdevice-net-certutil", "certutil"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not found (run ./scripts/install-deps.sh)"
		}
	}
	return ""
}

// StartQnetd creates the certificates and starts corosync-qnetd for cluster
// c (which must have more than one node: qnetd sits on its bridge). The
// nodes' corosync.conf must name QnetdAddr in quorum.device.net.host. It is
// stopped when the test ends.
func StartQnetd(t testing.TB, c *Cluster) *Qnetd {
	t.Helper()
	if why := QnetdMissing(); why != "" {
		Require(t)
		if os.Getenv(EnvRequire) == "require" {
			t.Fatalf("QNETD TEST CANNOT RUN: %s", why)
		}
		t.Skipf("\n*** QNETD TEST SKIPPED: %s ***", why)
	}
	if c.bridge == "" {
		t.Fatal("corotest: qnetd needs a cluster of more than one node")
	}
	q := &Qnetd{c: c, NS: c.tag + "qn", dir: filepath.Join(c.dir, "qnetd"), qdevices: map[uint32]*proc{}}
	must(t, os.MkdirAll(filepath.Join(q.dir, "etc", "qnetd"), 0o755))
	must(t, os.MkdirAll(filepath.Join(q.dir, "etc", "qdevice", "net"), 0o755))
	t.Cleanup(q.destroy)
	must(t, q.certificates())
	must(t, run("ip", "netns", "add", q.NS))
	must(t, run("ip", "-n", q.NS, "link", "set", "lo", "up"))
	must(t, run("ip", "-n", q.NS, "link", "add", "v0", "type", "veth", "peer", "name", c.tag+"bq", "netns", c.bridge))
	must(t, run("ip", "-n", q.NS, "addr", "add", QnetdAddr+"/24", "dev", "v0"))
	must(t, run("ip", "-n", q.NS, "link", "set", "v0", "up"))
	must(t, run("ip", "-n", c.bridge, "link", "set", c.tag+"bq", "master", "br0", "up"))
	must(t, q.Start())
	return q
}

// certutil runs the certificate scripts with dir/etc mounted on
// /etc/corosync in a private mount namespace: they only know that path.
func (q *Qnetd) certutil(script string) error {
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-ec",
		"mount --bind "+filepath.Join(q.dir, "etc")+" /etc/corosync\n"+script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("certificates: %v: %s", err, out)
	}
	return nil
}

func (q *Qnetd) certificates() error {
	name := q.c.Name()
	return q.certutil(fmt.Sprintf(`corosync-qnetd-certutil -i
corosync-qdevice-net-certutil -i -c /etc/corosync/qnetd/nssdb/qnetd-cacert.crt
corosync-qdevice-net-certutil -r -n %[1]s
corosync-qnetd-certutil -s -c /etc/corosync/qdevice/net/nssdb/qdevice-net-node.crq -n %[1]s
corosync-qdevice-net-certutil -M -c /etc/corosync/qnetd/nssdb/cluster-%[1]s.crt
`, name))
}

// Start starts corosync-qnetd (it must not be running).
func (q *Qnetd) Start() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cmd != nil {
		return fmt.Errorf("qnetd already running")
	}
	log, err := os.OpenFile(filepath.Join(q.dir, "qnetd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", q.NS, "corosync-qnetd", "-f", "-d", "-l", QnetdAddr,
		"-S", fmt.Sprintf("nss_db_dir=%s,lock_file=%s,local_socket_file=%s",
			filepath.Join(q.dir, "etc", "qnetd", "nssdb"), filepath.Join(q.dir, "qnetd.pid"), filepath.Join(q.dir, "qnetd.sock")))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	q.cmd, q.exited = cmd, exited
	return nil
}

// Kill kills corosync-qnetd (SIGKILL) and waits for it to exit.
func (q *Qnetd) Kill() error {
	q.mu.Lock()
	cmd, exited := q.cmd, q.exited
	q.cmd = nil
	q.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Kill()
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("qnetd did not exit")
	}
}

// Log returns qnetd's and the qdevices' logs.
func (q *Qnetd) Log() string {
	var s string
	for _, f := range []string{"qnetd.log", "qdevice-1.log", "qdevice-2.log", "qdevice-3.log", "qdevice-4.log", "qdevice-5.log"} {
		if b, err := os.ReadFile(filepath.Join(q.dir, f)); err == nil {
			s += "--- " + f + "\n" + string(b)
		}
	}
	return s
}

// StartQdevice starts corosync-qdevice on node n, with the nodes' NSS
// database the test created.
func (q *Qnetd) StartQdevice(n *Node) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.qdevices[n.ID] != nil {
		return fmt.Errorf("qdevice already running on node %d", n.ID)
	}
	log, err := os.OpenFile(filepath.Join(q.dir, fmt.Sprintf("qdevice-%d.log", n.ID)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", n.NS, "corosync-qdevice", "-f", "-d",
		"-S", fmt.Sprintf("net_nss_db_dir=%s,lock_file=%s,local_socket_file=%s",
			filepath.Join(q.dir, "etc", "qdevice", "net", "nssdb"),
			filepath.Join(q.dir, fmt.Sprintf("qdevice-%d.pid", n.ID)), filepath.Join(q.dir, fmt.Sprintf("qdevice-%d.sock", n.ID))))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(p.exited) }()
	q.qdevices[n.ID] = p
	return nil
}

// StopQdevice stops node id's corosync-qdevice (SIGTERM: it unregisters).
func (q *Qnetd) StopQdevice(id uint32) {
	q.mu.Lock()
	p := q.qdevices[id]
	delete(q.qdevices, id)
	q.mu.Unlock()
	if p != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

func (q *Qnetd) destroy() {
	q.mu.Lock()
	var ids []uint32
	for id := range q.qdevices {
		ids = append(ids, id)
	}
	q.mu.Unlock()
	for _, id := range ids {
		q.StopQdevice(id)
	}
	q.Kill()
	run("ip", "netns", "del", q.NS)
}

// WaitReady waits until qnetd accepts TCP connections.
func (q *Qnetd) WaitReady(ctx context.Context) error {
	for {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", q.NS, "corosync-qnetd-tool", "-s",
			"-p", filepath.Join(q.dir, "qnetd.sock")).CombinedOutput()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("qnetd not ready: %v: %s\n%s", err, out, q.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
