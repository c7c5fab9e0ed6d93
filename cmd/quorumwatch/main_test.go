package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/corosync-go/corosync/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuf is a goroutine-safe output buffer.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func withMock(t *testing.T, cl *mock.Cluster) {
	testDialer = cl.Node(1)
	t.Cleanup(func() { testDialer = nil })
}

func runQW(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	var out, errb syncBuf
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestOnceExitCodes(t *testing.T) {
	ctx := context.Background()
	cl := mock.NewCluster(3)
	withMock(t, cl)
	code, out, _ := runQW(t, ctx, "-once")
	if code != 0 || !strings.Contains(out, "snapshot     quorate, ring 1.4, members 1,2,3") {
		t.Fatalf("quorate: exit %d, output %q", code, out)
	}
	cl.Partition([]uint32{1}, []uint32{2, 3})
	if code, out, _ := runQW(t, ctx, "-once"); code != 2 || !strings.Contains(out, "NOT quorate") {
		t.Fatalf("not quorate: exit %d, output %q", code, out)
	}
	cl.Stop(1)
	if code, out, _ := runQW(t, ctx, "-once", "-timeout", "200ms"); code != 1 || !strings.Contains(out, "cannot connect to corosync") {
		t.Fatalf("no daemon: exit %d, output %q", code, out)
	}
	if code, _, errOut := runQW(t, ctx, "-model", "v7"); code != 1 || !strings.Contains(errOut, "-model") {
		t.Fatalf("bad flag: exit %d, %q", code, errOut)
	}
}

// The documented JSON schema, field by field.
func TestJSONSchema(t *testing.T) {
	cl := mock.NewCluster(3)
	withMock(t, cl)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuf
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-json"}, &out, &errb) }()
	waitFor(t, &out, `"event":"snapshot"`)
	cl.Kill(3)
	waitFor(t, &out, `"event":"quorum"`)
	cl.Stop(1)
	waitFor(t, &out, `"event":"disconnected"`)
	cl.Start(1)
	waitFor(t, &out, `"event":"reconnected"`)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after cancel", code)
	}
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		for _, f := range []string{"time", "event", "quorate", "ring_id", "ring", "members"} {
			if _, ok := m[f]; !ok {
				t.Fatalf("line %q lacks %q", sc.Text(), f)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Fatalf("time: %v", err)
		}
		ev := m["event"].(string)
		kinds = append(kinds, ev)
		switch ev {
		case "nodelist":
			if _, ok := m["joined"]; !ok {
				t.Fatalf("nodelist without joined: %q", sc.Text())
			}
			if m["left"].([]any)[0].(float64) != 3 {
				t.Fatalf("left: %q", sc.Text())
			}
		case "disconnected":
			if m["quorate"] != false || m["error"] == nil {
				t.Fatalf("disconnected: %q", sc.Text())
			}
		case "snapshot":
			ring := m["ring"].(map[string]any)
			if m["ring_id"] != fmt.Sprintf("%x.%x", uint32(ring["nodeid"].(float64)), uint64(ring["seq"].(float64))) {
				t.Fatalf("ring_id and ring disagree: %q", sc.Text())
			}
		}
	}
	want := "snapshot nodelist quorum disconnected reconnected snapshot"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func waitFor(t *testing.T, b *syncBuf, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q in:\n%s", s, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Hooks run on the first state and on every quorate change, never two at
// once, and the last one sees the final state.
func TestExecNeverOverlaps(t *testing.T) {
	cl := mock.NewCluster(1)
	withMock(t, cl)
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	hook := fmt.Sprintf(`echo "start $1 $QUORUMWATCH_QUORATE" >> %s; sleep 0.05; echo "end $1" >> %s`, logf, logf)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuf
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-exec", hook}, &out, &errb) }()
	waitFor(t, &out, "snapshot")
	for i := 0; i < 10; i++ {
		cl.SetExpectedVotes(uint32(2 - i%2)) // flip quorate 10 times
		time.Sleep(15 * time.Millisecond)
	}
	// The last state is quorate (expected votes 1): wait for its hook.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logf)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) >= 2 && lines[len(lines)-1] == "end quorate" && strings.HasPrefix(lines[len(lines)-2], "start quorate 1") {
			time.Sleep(100 * time.Millisecond) // nothing more may follow
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hooks never settled on quorate:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	b, _ := os.ReadFile(logf)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		want := "start"
		if i%2 == 1 {
			want = "end"
		}
		if !strings.HasPrefix(l, want) {
			t.Fatalf("hooks overlapped at line %d:\n%s", i, b)
		}
	}
	if runs := len(lines) / 2; runs < 2 || runs > 11 {
		t.Fatalf("%d hook runs for 1 snapshot and 10 changes", runs)
	}
	if lines[len(lines)-1] != "end quorate" {
		t.Fatalf("last hook saw %q", lines[len(lines)-1])
	}
}

func TestExecTimeoutKills(t *testing.T) {
	cl := mock.NewCluster(1)
	withMock(t, cl)
	marker := filepath.Join(t.TempDir(), "survived")
	hook := fmt.Sprintf(`(sleep 1; touch %s) & sleep 5; touch %s`, marker, marker)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuf
	done := make(chan int)
	start := time.Now()
	go func() { done <- run(ctx, []string{"-exec", hook, "-exec-timeout", "100ms"}, &out, &errb) }()
	waitFor(t, &out, "killed after 100ms timeout")
	if time.Since(start) > 3*time.Second {
		t.Fatal("hook was not killed promptly")
	}
	cancel()
	<-done
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a process of the hook's group outlived the kill")
	}
}

func TestSimEveryLineSimulated(t *testing.T) {
	for _, jsonOut := range []bool{false, true} {
		args := []string{"-sim", "-sim-step", "20ms"}
		if jsonOut {
			args = append(args, "-json")
		}
		code, out, _ := runQW(t, context.Background(), args...)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 15 {
			t.Fatalf("only %d lines:\n%s", len(lines), out)
		}
		for _, l := range lines {
			if !strings.Contains(l, "[simulated]") && !strings.Contains(l, `"simulated":true`) {
				t.Fatalf("line not marked simulated: %q", l)
			}
		}
		for _, want := range []string{"joined", "NOT quorate", "disconnected", "reconnected"} {
			if !jsonOut && !strings.Contains(out, want) {
				t.Fatalf("scenario output lacks %q:\n%s", want, out)
			}
		}
	}
}

// -version (and --version) prints the build's version on stdout and exits
// 0 without touching corosync.
func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"-version", "--version"} {
		code, out, errOut := runQW(t, context.Background(), arg)
		if code != 0 || !strings.HasPrefix(out, "quorumwatch, version ") || !strings.Contains(out, "go version:") || errOut != "" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
	}
}
