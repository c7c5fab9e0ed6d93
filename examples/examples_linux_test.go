package examples_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// build compiles the example command dir into t's temporary directory.
func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), dir)
	if out, err := exec.Command("go", "build", "-o", bin, "./"+dir).CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
	}
	return bin
}

// healthcheck runs the health check on node n and returns its exit code
// and output.
func healthcheck(t *testing.T, bin string, n *corotest.Node) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", n.NS, bin).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("healthcheck: %v\n%s", err, out)
	return 0, ""
}

// The README's health check, on a real cluster: healthy, then a dead node
// named, then healthy again.
func TestHealthcheck(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	bin := build(t, "healthcheck")
	if code, out := healthcheck(t, bin, cl.Node(1)); code != 0 || !strings.Contains(out, "healthy: cluster") {
		t.Fatalf("all up: exit %d\n%s", code, out)
	}
	if err := cl.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Node(1).WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if code, out := healthcheck(t, bin, cl.Node(1)); code != 1 || !strings.Contains(out, "UNHEALTHY: node 3 (node3) is not a member") {
		t.Fatalf("node 3 dead: exit %d\n%s", code, out)
	}
	if err := cl.Node(3).Start(); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitFormed(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // links come up after the membership
	for {
		code, out := healthcheck(t, bin, cl.Node(1))
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed: exit %d\n%s", code, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// lines collects a process's output lines.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) wait(t *testing.T, what string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, s := range l.all {
			if strings.Contains(s, what) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no %q within %v; output:\n%s", what, d, strings.Join(l.all, "\n"))
}

// The README's quorum-gated worker, on a real cluster: it works while
// quorate, stops when its node is cut off alone, works again after the heal.
func TestQuorumgate(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	bin := build(t, "quorumgate")
	l := start(t, bin, cl.Node(1))
	l.wait(t, "starting work", 20*time.Second)
	l.wait(t, "working", 5*time.Second)
	if err := cl.Split([]uint32{1}, []uint32{2, 3}); err != nil {
		t.Fatal(err)
	}
	l.wait(t, "stopping work", 30*time.Second)
	if err := cl.Heal(); err != nil {
		t.Fatal(err)
	}
	n := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return strings.Count(strings.Join(l.all, "\n"), "starting work")
	}
	deadline := time.Now().Add(30 * time.Second)
	for n() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second start after the heal:\n%s", strings.Join(l.all, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// start runs a recipe program on node n, collecting its output; it is
// interrupted when t ends.
func start(t *testing.T, bin string, n *corotest.Node) *lines {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.NS, bin)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	l := &lines{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { stop(t, cmd, done, l) })
	return l
}

// stop interrupts a recipe program, as Ctrl-C or systemd would, and fails
// t if it does not exit within 10 s (then with its goroutines, from
// SIGQUIT).
func stop(t *testing.T, cmd *exec.Cmd, done chan struct{}, l *lines) {
	cmd.Process.Signal(os.Interrupt)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
		<-done
		t.Errorf("%s did not exit within 10 s of SIGINT:\n%s", cmd.Args[len(cmd.Args)-1], strings.Join(l.all, "\n"))
		return
	}
	<-done
}

// leading says whether the program's last word is that it leads.
func (l *lines) leading() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.all) - 1; i >= 0; i-- {
		switch {
		case strings.Contains(l.all[i], "not the leader"):
			return false
		case strings.Contains(l.all[i], "leader ("):
			return true
		}
	}
	return false
}

// count says how many of l's lines contain s.
func (l *lines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.all {
		if strings.Contains(x, s) {
			n++
		}
	}
	return n
}

// The README's election, on a real cluster: one leader (node 1, the
// lowest); node 1 cut off alone steps down and node 2 leads the majority
// (one leader, never two: the cut-off side has a view but no quorum);
// after the heal node 1 leads again.
func TestElection(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	bin := build(t, "election")
	var ls []*lines
	for id := uint32(1); id <= 3; id++ {
		ls = append(ls, start(t, bin, cl.Node(id)))
	}
	// A process that joins before the others may lead its one-member view
	// for a moment; once every view has been seen, node 1 alone leads.
	ls[0].wait(t, "leader (", 30*time.Second)
	time.Sleep(2 * time.Second)
	if ls[1].leading() || ls[2].leading() {
		t.Fatalf("two leaders: node 2 %q, node 3 %q", ls[1].all, ls[2].all)
	}
	if err := cl.Split([]uint32{1}, []uint32{2, 3}); err != nil {
		t.Fatal(err)
	}
	ls[0].wait(t, "not the leader any more (quorate false", 30*time.Second)
	ls[1].wait(t, "leader (", 30*time.Second)
	if ls[2].leading() {
		t.Fatalf("node 3 leads beside node 2: %q", ls[2].all)
	}
	if err := cl.Heal(); err != nil {
		t.Fatal(err)
	}
	ls[1].wait(t, "not the leader any more", 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for ls[0].count("leader (") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("node 1 did not lead again after the heal: %q", ls[0].all)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
