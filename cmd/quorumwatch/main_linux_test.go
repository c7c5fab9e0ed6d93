package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// TestRealDaemon checks -once's exit codes against every daemon of the
// matrix (or the one COROSYNC_GO_DAEMON names).
func TestRealDaemon(t *testing.T) {
	corotest.Matrix(t, testRealDaemon)
}

func testRealDaemon(t *testing.T, d corotest.Daemon) {
	cl := corotest.Start(t, 1, corotest.Options{Daemon: &d})
	n := cl.Node(1)
	ctx := context.Background()
	code, out, _ := runQW(t, ctx, "-once", "-netns", n.NetNSPath())
	// Before 3.1 the quorum service tells no representative node (model
	// V0): the ring id reads 0.<seq>.
	ring := map[bool]string{true: "quorate, ring 1.", false: "quorate, ring 0."}[d.Major > 3 || d.Major == 3 && d.Minor >= 1]
	if code != 0 || !strings.Contains(out, ring) {
		t.Fatalf("quorate daemon: exit %d, %q", code, out)
	}
	if err := n.SetExpectedVotes(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runQW(t, ctx, "-once", "-json", "-netns", n.NetNSPath()); code != 2 || !strings.Contains(out, `"quorate":false`) {
		t.Fatalf("inquorate daemon: exit %d, %q", code, out)
	}
	n.SetExpectedVotes(ctx, 1)
	n.Stop()
	if code, _, _ := runQW(t, ctx, "-once", "-timeout", "500ms", "-netns", n.NetNSPath()); code != 1 {
		t.Fatalf("stopped daemon: exit %d", code)
	}
}

// TestStatusMatchesQuorumtool compares -status with corosync-quorumtool -s
// line by line (but the Date line), and -status -json with it field by
// field, on every node of a cluster, also after a node is lost; against
// every daemon of the matrix (or the one COROSYNC_GO_DAEMON names), each
// with its own quorumtool: 2.x prints ring ids in decimal ("1/8") and names
// nodes by their ring0_addr, 3.x in hex ("1.8") and by their name.
func TestStatusMatchesQuorumtool(t *testing.T) {
	corotest.Matrix(t, testStatusMatchesQuorumtool)
}

func testStatusMatchesQuorumtool(t *testing.T, d corotest.Daemon) {
	start := time.Now()
	cl := corotest.Start(t, 3, corotest.Options{Daemon: &d, Votequorum: corotest.Votequorum{WaitForAll: true}})
	defer func() { t.Logf("%s: %v", d, time.Since(start).Round(time.Millisecond)) }()
	ctx := context.Background()
	compare := func(step string, ids ...uint32) { compareStatus(t, cl, step, ids...) }
	compare("formed", 1, 2, 3)
	_, sample, _ := runQW(t, ctx, "-status", "-netns", cl.Node(1).NetNSPath())
	_, sampleJSON, _ := runQW(t, ctx, "-status", "-json", "-netns", cl.Node(1).NetNSPath())
	t.Logf("-status:\n%s\n-status -json: %s", sample, sampleJSON)
	if err := cl.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Node(1).WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	compare("node 3 lost", 1, 2)
	if err := cl.Node(2).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Node(1).WaitMembers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	compare("node 1 alone", 1)
	// The comparisons above covered the release's own format: 2.x's
	// quorumtool prints the ring id as 1/N, 3.x's as 1.N.
	_, tool, _ := cl.Node(1).QuorumTool(ctx)
	sep := map[bool]string{true: ".", false: "/"}[d.Knet()]
	if !strings.Contains(tool, "Ring ID:          1"+sep) {
		t.Fatalf("%s: quorumtool's ring id is not of the form 1%sN:\n%s", d, sep, tool)
	}
}

// compareStatus compares -status and -status -json with
// corosync-quorumtool -s on nodes ids. The tool runs before and after our
// reads: when its two outputs differ, the cluster moved meanwhile (a
// membership change on a loaded machine) and the node is compared again;
// when they agree, ours must equal them.
func compareStatus(t *testing.T, cl *corotest.Cluster, step string, ids ...uint32) {
	t.Helper()
	for _, id := range ids {
		for attempt := 1; ; attempt++ {
			moved, problems := compareNode(t, cl.Node(id))
			if !moved {
				for _, p := range problems {
					t.Errorf("%s: node %d: %s", step, id, p)
				}
				break
			}
			if attempt == 5 {
				t.Fatalf("%s: node %d: the cluster kept changing under 5 comparisons; last: %v", step, id, problems)
			}
			t.Logf("%s: node %d: the cluster changed during comparison %d; again", step, id, attempt)
		}
	}
}

// compareNode reads n with corosync-quorumtool -s, -status, -status -json
// and the tool again. moved says the tool's two outputs differ (but the
// Date line); problems lists how ours differ from the first.
func compareNode(t *testing.T, n *corotest.Node) (moved bool, problems []string) {
	t.Helper()
	ctx := context.Background()
	quorate, want := quorumTool(t, n)
	code, out, errOut := runQW(t, ctx, "-status", "-netns", n.NetNSPath())
	_, js, _ := runQW(t, ctx, "-status", "-json", "-netns", n.NetNSPath())
	if _, again := quorumTool(t, n); again != want {
		return true, []string{fmt.Sprintf("quorumtool said\n%s\nthen\n%s", want, again)}
	}
	if wantCode := map[bool]int{true: 0, false: 2}[quorate]; code != wantCode {
		problems = append(problems, fmt.Sprintf("exit %d, want %d (%s)", code, wantCode, errOut))
	}
	if out != want {
		problems = append(problems, fmt.Sprintf("-status:\n%s\ncorosync-quorumtool -s:\n%s", out, want))
	}
	var st status
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("%v: %q", err, js)
	}
	if st.text() != want {
		problems = append(problems, fmt.Sprintf("JSON %s renders as\n%s\ncorosync-quorumtool -s:\n%s", js, st.text(), want))
	}
	return false, problems
}

// quorumTool runs corosync-quorumtool -s on n: whether it says quorate, and
// its output without the Date line.
func quorumTool(t *testing.T, n *corotest.Node) (bool, string) {
	t.Helper()
	quorate, tool, err := n.QuorumTool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(tool, "\n") {
		if !strings.HasPrefix(l, "Date:") {
			want = append(want, l)
		}
	}
	return quorate, strings.Join(want, "\n")
}

// TestStatusQdevice compares -status with corosync-quorumtool -s with a
// real quorum device (qnetd), before and after qnetd is killed.
func TestStatusQdevice(t *testing.T) {
	cl := corotest.Start(t, 2, corotest.Options{Votequorum: corotest.Votequorum{Device: &corotest.Device{
		Votes: 1, Net: &corotest.DeviceNet{Host: corotest.QnetdAddr}}}})
	q := corotest.StartQnetd(t, cl)
	ctx := context.Background()
	if err := q.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.Nodes {
		if err := q.StartQdevice(n); err != nil {
			t.Fatal(err)
		}
	}
	waitTool := func(want string) {
		t.Helper()
		for range 300 {
			if _, out, _ := cl.Node(1).QuorumTool(ctx); strings.Contains(out, want) {
				if _, out, _ := cl.Node(2).QuorumTool(ctx); strings.Contains(out, want) {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("quorumtool never showed %q\n%s", want, q.Log())
	}
	waitTool("Total votes:      3")
	compareStatus(t, cl, "with qnetd", 1, 2)
	if err := q.Kill(); err != nil {
		t.Fatal(err)
	}
	waitTool("(votes 1)")
	compareStatus(t, cl, "qnetd killed", 1, 2)
}

// TestStatusExtraInfo compares -status with corosync main's own
// corosync-quorumtool -s while quorum devices on two nodes have set extra
// info, which main's tool prints after the node's name: a NUL-terminated
// printable string as is, anything else in hex.
func TestStatusExtraInfo(t *testing.T) {
	d, _ := corotest.LookupDaemon("main")
	cl := corotest.Start(t, 3, corotest.Options{Daemon: &d})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for id, info := range map[uint32][]byte{1: []byte("hello world\x00"), 2: {0x01, 0xfe, 'a', 0}} {
		c, err := votequorum.Dial(ctx, client.WithDialer(cl.Node(id).Dialer()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.QdeviceRegister(ctx, "go-qdevice"); err != nil {
			t.Fatal(err)
		}
		if err := c.SetQdeviceExtraInfo(ctx, info); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		if _, out, _ := cl.Node(3).QuorumTool(ctx); strings.Contains(out, "[hello world]") && strings.Contains(out, "[4 bytes: 01 FE 61 00 ]") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	compareStatus(t, cl, "two devices with extra info", 1, 2, 3)
	_, out, _ := runQW(t, ctx, "-status", "-netns", cl.Node(3).NetNSPath())
	t.Logf("-status on node 3:\n%s", out)
	if !strings.Contains(out, "[4 bytes: 01 FE 61 00 ]") {
		t.Fatalf("-status:\n%s", out)
	}
}
