//go:build linux

package corotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/corosync-go/corosync/transport"
)

// ConfPath returns the node's corosync.conf.
func (n *Node) ConfPath() string { return filepath.Join(n.Dir, "corosync.conf") }

// StateDir returns the node's corosync state directory.
func (n *Node) StateDir() string { return filepath.Join(n.Dir, "state") }

// LogPath returns the node's log file.
func (n *Node) LogPath() string { return filepath.Join(n.Dir, "corosync.log") }

// NetNSPath returns the path of the node's network namespace.
func (n *Node) NetNSPath() string { return "/var/run/netns/" + n.NS }

// Dialer returns our pure-Go transport aimed at this node.
func (n *Node) Dialer() transport.Dialer {
	return transport.NewDialer(transport.Config{NetNS: n.NetNSPath()})
}

// Log returns the node's daemon log.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath())
	return string(b)
}

// Start starts the daemon (it must not be running).
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("node %d already running", n.ID)
	}
	out, err := os.OpenFile(filepath.Join(n.Dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// ip netns exec and unshare exec in place, and sh execs corosync, so the
	// pid we start is corosync's. 2.x has no -c: it reads the configuration
	// file and its state directory from the environment.
	d := n.c.d
	daemonCmd := "exec " + d.Bin("corosync") + " -f -c " + n.ConfPath()
	if !d.HasDashC() {
		daemonCmd = "exec " + d.Bin("corosync") + " -f"
	}
	cmd := exec.Command("ip", "netns", "exec", n.NS, "unshare", "-m", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs tmpfs /run && "+daemonCmd)
	if !d.HasDashC() {
		cmd.Env = append(os.Environ(), "COROSYNC_MAIN_CONFIG_FILE="+n.ConfPath(), "COROSYNC_RUN_DIR="+n.StateDir())
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		n.mu.Lock()
		n.lastExit = cmd.ProcessState.String()
		n.mu.Unlock()
		close(exited)
	}()
	n.cmd, n.exited = cmd, exited
	n.c.mu.Lock()
	n.c.pids = append(n.c.pids, cmd.Process.Pid)
	n.c.mu.Unlock()
	return nil
}

// Pid returns the daemon's pid, or 0 when it is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// ExitStatus returns how the node's last daemon process ended, as
// os.ProcessState renders it ("exit status 0", "signal: killed"), or ""
// if none has ended.
func (n *Node) ExitStatus() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastExit
}

// Running reports whether the daemon process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

func (n *Node) signal(sig syscall.Signal, wait time.Duration) error {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-exited
	}
	n.mu.Lock()
	n.cmd, n.exited = nil, nil
	n.mu.Unlock()
	return nil
}

// Stop stops the daemon gracefully (SIGTERM) and waits for it to exit.
func (n *Node) Stop() error { return n.signal(syscall.SIGTERM, 15*time.Second) }

// Kill kills the daemon with SIGKILL and waits for it to exit.
func (n *Node) Kill() error { return n.signal(syscall.SIGKILL, 5*time.Second) }

// Exec runs a command in the node's network namespace. A bare corosync tool
// name ("corosync-cmapctl", "corosync-cfgtool", ...) runs the node's
// daemon's own tool.
func (n *Node) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	name = n.c.d.resolveTool(name)
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.NS, name}, args...)...)
	return cmd.CombinedOutput()
}

// QuorumTool runs corosync-quorumtool -s on the node and returns whether it
// reports quorate (exit 0) or not (exit 2).
func (n *Node) QuorumTool(ctx context.Context) (bool, string, error) {
	out, err := n.Exec(ctx, "corosync-quorumtool", "-s")
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, string(out), nil
	case errors.As(err, &ee) && ee.ExitCode() == 2:
		return false, string(out), nil
	}
	return false, string(out), fmt.Errorf("corosync-quorumtool on node %d: %v: %s", n.ID, err, out)
}

// Cmap runs corosync-cmapctl with args on the node.
func (n *Node) Cmap(ctx context.Context, args ...string) error {
	out, err := n.Exec(ctx, "corosync-cmapctl", args...)
	if err != nil {
		return fmt.Errorf("corosync-cmapctl %v on node %d: %v: %s", args, n.ID, err, out)
	}
	return nil
}

// SetExpectedVotes sets quorum.expected_votes at runtime: on a single node,
// 2 loses quorum and 1 regains it.
func (n *Node) SetExpectedVotes(ctx context.Context, v int) error {
	return n.Cmap(ctx, "-s", "quorum.expected_votes", "u32", strconv.Itoa(v))
}

// Members returns the node's current membership as corosync-quorumtool
// lists it, without the quorum device's line (node id 0).
func (n *Node) Members(ctx context.Context) ([]uint32, error) {
	out, err := n.Exec(ctx, "corosync-quorumtool", "-l")
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			return nil, fmt.Errorf("corosync-quorumtool -l: %v: %s", err, out)
		}
	}
	var ids []uint32
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			// Node id 0 is the quorum device's line (while one is
			// registered), not a member.
			if id, err := strconv.ParseUint(f[0], 10, 32); err == nil && id != 0 {
				ids = append(ids, uint32(id))
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// WaitMembers waits until the node's daemon answers and its membership is
// exactly ids.
func (n *Node) WaitMembers(ctx context.Context, ids ...uint32) error {
	want := slices.Clone(ids)
	slices.Sort(want)
	var last []uint32
	var lastErr error
	for {
		if !n.Running() {
			return fmt.Errorf("node %d: corosync exited", n.ID)
		}
		last, lastErr = n.Members(ctx)
		if lastErr == nil && slices.Equal(last, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d: members %v, want %v (last error %v): %w", n.ID, last, want, lastErr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReady waits until the daemon answers corosync-quorumtool.
func (n *Node) WaitReady(ctx context.Context) error {
	for {
		if !n.Running() {
			return fmt.Errorf("node %d: corosync exited", n.ID)
		}
		if _, _, err := n.QuorumTool(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d not ready: %w", n.ID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
