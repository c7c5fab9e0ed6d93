package votequorum_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// TestQdeviceExtraInfo runs on every daemon of the matrix. On corosync
// main, the quorum device's extra info (requests 10 and 11, events 7)
// works as main's own corosync-quorumtool shows it: set through this
// client, read on another node, announced to trackers, in a new client's
// snapshot, set by the tool and read by the client, cleared, cleared by
// unregistering, and set again after the daemon restarts. On every
// release, the client is not taken for main and both calls fail with
// ErrNotSupported; a sent request would have come back as the daemon's
// generic reject, CS_ERR_INVALID_PARAM.
func TestQdeviceExtraInfo(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{Votequorum: corotest.Votequorum{Device: &corotest.Device{Votes: 1}}})
	n1, n2 := cl.Node(1), cl.Node(2)
	c1, c2 := dial(t, n1), dial(t, n2)
	ctx := ctxT(t, 120*time.Second)
	main := cl.Daemon().Name == "main"
	if v, want := c1.DaemonVersion(), cl.Daemon().VotequorumLine(); v != want {
		t.Fatalf("DaemonVersion = %v, want %v", v, want)
	}
	if !main {
		if err := c1.SetQdeviceExtraInfo(ctx, []byte("x")); !errors.Is(err, corosync.ErrNotSupported) || !strings.Contains(err.Error(), "QDEVICE_SET_EXTRA_INFO") {
			t.Errorf("SetQdeviceExtraInfo on %s: %v", cl.Daemon(), err)
		}
		if _, err := c1.QdeviceExtraInfo(ctx, 1); !errors.Is(err, corosync.ErrNotSupported) {
			t.Errorf("QdeviceExtraInfo on %s: %v", cl.Daemon(), err)
		}
		checkInfo(t, c1, n1)
		return
	}
	s2 := subscribe(t, c2)
	waitEvent(t, s2, corosync.EventSnapshot, nil)
	const name = "go-qdevice"

	if info, err := c2.QdeviceExtraInfo(ctx, 1); err != nil || len(info) != 0 {
		t.Fatalf("before any was set: %q, %v", info, err)
	}
	// Node id 0 is the quorum device's own entry, which has none.
	if info, err := c2.QdeviceExtraInfo(ctx, 0); err != nil || len(info) != 0 {
		t.Errorf("QdeviceExtraInfo(0): %q, %v", info, err)
	}
	if _, err := c2.QdeviceExtraInfo(ctx, 99); !errors.Is(err, corosync.ErrNotExist) || !strings.Contains(err.Error(), "node 99") {
		t.Errorf("QdeviceExtraInfo(99): %v", err)
	}
	if err := c1.SetQdeviceExtraInfo(ctx, []byte("x")); !errors.Is(err, corosync.ErrNotExist) {
		t.Fatalf("set without a registered device: %v", err)
	}
	if err := c1.SetQdeviceExtraInfo(ctx, make([]byte, votequorum.MaxQdeviceExtraInfo+1)); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Fatalf("set 4097 bytes: %v", err)
	}
	if err := c1.QdeviceRegister(ctx, name); err != nil {
		t.Fatal(err)
	}

	set := func(info []byte) {
		t.Helper()
		if err := c1.SetQdeviceExtraInfo(ctx, info); err != nil {
			t.Fatalf("SetQdeviceExtraInfo(%d bytes): %v", len(info), err)
		}
		ev := waitEvent(t, s2, corosync.EventQdeviceExtraInfo, func(e votequorum.Event) bool {
			return e.NodeID == 1 && bytes.Equal(e.QdeviceExtraInfo[1], info)
		})
		if _, ok := ev.QdeviceExtraInfo[1]; ok != (len(info) > 0) {
			t.Fatalf("event after setting %d bytes: %v", len(info), ev)
		}
		got, err := c2.QdeviceExtraInfo(ctx, 1)
		if err != nil || !bytes.Equal(got, info) {
			t.Fatalf("node 2 reads %d bytes, %v; want %d", len(got), err, len(info))
		}
	}
	set([]byte("hello\x00"))
	i := waitInfo(t, c1, "has extra info", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdeviceHasExtraInfo) })
	if !i.Flags.Has(votequorum.FlagQdevice) {
		t.Fatalf("info: %v", i)
	}
	// main's corosync-quorumtool -s prints a registered device's printable
	// extra info after its node.
	if _, out, err := n2.QuorumTool(ctx); err != nil || !strings.Contains(out, "[hello]") {
		t.Fatalf("corosync-quorumtool -s on node 2 (%v):\n%s", err, out)
	}
	set(bytes.Repeat([]byte{0xff, 0}, votequorum.MaxQdeviceExtraInfo/2))

	// A new client's snapshot has it.
	c3 := dial(t, cl.Node(3))
	if got := c3.Latest().QdeviceExtraInfo[1]; len(got) != votequorum.MaxQdeviceExtraInfo {
		t.Fatalf("node 3's snapshot: %d bytes of node 1's extra info", len(got))
	}

	// main's corosync-quorumtool -X sets it (a string with its NUL).
	if out, err := n1.Exec(ctx, "corosync-quorumtool", "-X", "from-the-tool"); err != nil {
		t.Fatalf("corosync-quorumtool -X: %v: %s", err, out)
	}
	waitEvent(t, s2, corosync.EventQdeviceExtraInfo, func(e votequorum.Event) bool {
		return string(e.QdeviceExtraInfo[1]) == "from-the-tool\x00"
	})
	if got, err := c1.QdeviceExtraInfo(ctx, 1); err != nil || string(got) != "from-the-tool\x00" {
		t.Fatalf("after -X: %q, %v", got, err)
	}

	set(nil) // clears
	set([]byte("again"))

	// The daemon restarts: the client registers the device and sets its
	// extra info again.
	if err := n1.Kill(); err != nil {
		t.Fatal(err)
	}
	s1 := subscribe(t, c1)
	waitEvent(t, s1, corosync.EventDisconnected, nil)
	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	if r := waitEvent(t, s1, corosync.EventReconnected, nil); r.Err != nil {
		t.Fatalf("reconnected: %v", r.Err)
	}
	waitEvent(t, s2, corosync.EventQdeviceExtraInfo, func(e votequorum.Event) bool { return string(e.QdeviceExtraInfo[1]) == "again" })

	// Unregistering clears it.
	if err := c1.QdeviceUnregister(ctx, name); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s2, corosync.EventQdeviceExtraInfo, func(e votequorum.Event) bool { return e.NodeID == 1 && e.QdeviceExtraInfo == nil })
	if got, err := c2.QdeviceExtraInfo(ctx, 1); err != nil || len(got) != 0 {
		t.Fatalf("after unregister: %q, %v", got, err)
	}
	checkInfo(t, c1, n1)
	if lines := n1.ErrorLines(); len(lines) > 0 {
		t.Errorf("node 1's log has errors:\n%s", strings.Join(lines, "\n"))
	}
}
