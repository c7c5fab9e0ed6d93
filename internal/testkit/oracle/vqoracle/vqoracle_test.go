//go:build oracle

package vqoracle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
	"github.com/corosync-go/corosync/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// raw is a pure-Go votequorum connection speaking vqwire directly.
type raw struct {
	t *testing.T
	c *transport.IPCConn
}

func dial(t *testing.T, n *corotest.Node) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "votequorum", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c}
}

func (r *raw) do(req vqwire.Request) vqwire.Response {
	r.t.Helper()
	b, err := vqwire.AppendRequest(nil, req)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.c.Request(ctx, b, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := vqwire.DecodeResponse(resp, req.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func (r *raw) events(n int) []Event {
	r.t.Helper()
	var out []Event
	for len(out) < n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := r.c.ReadEvent(ctx)
		cancel()
		if err != nil {
			r.t.Fatalf("after %v: %v", out, err)
		}
		e, err := vqwire.DecodeEvent(b)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, FromWire(e))
	}
	return out
}

func open(t *testing.T, n *corotest.Node) *Client {
	t.Helper()
	c, err := Open(n.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Finalize() })
	return c
}

// compareInfo compares libvotequorum's getinfo with vqwire's decoding of a
// raw getinfo on the same node, field by field.
func compareInfo(t *testing.T, or *Client, ours *raw, node uint32) {
	t.Helper()
	want, werr := or.GetInfo(node)
	got := ours.do(vqwire.Request{ID: vqwire.ReqGetInfo, NodeID: node})
	if corosync.Code(werr) != got.Error {
		t.Errorf("getinfo(%d): libvotequorum %v, ours %v", node, werr, got.Error)
		return
	}
	g, w := got.Info, want
	for _, f := range []struct {
		name   string
		g, w   any
		differ bool
	}{
		{"NodeID", g.NodeID, w.NodeID, g.NodeID != w.NodeID},
		{"State", g.State, w.State, g.State != w.State},
		{"NodeVotes", g.NodeVotes, w.NodeVotes, g.NodeVotes != w.NodeVotes},
		{"NodeExpectedVotes", g.NodeExpectedVotes, w.NodeExpectedVotes, g.NodeExpectedVotes != w.NodeExpectedVotes},
		{"HighestExpected", g.HighestExpected, w.HighestExpected, g.HighestExpected != w.HighestExpected},
		{"TotalVotes", g.TotalVotes, w.TotalVotes, g.TotalVotes != w.TotalVotes},
		{"Quorum", g.Quorum, w.Quorum, g.Quorum != w.Quorum},
		{"Flags", g.Flags, w.Flags, g.Flags != w.Flags},
		{"QdeviceVotes", g.QdeviceVotes, w.QdeviceVotes, g.QdeviceVotes != w.QdeviceVotes},
		{"QdeviceName", g.QdeviceName, w.QdeviceName, g.QdeviceName != w.QdeviceName},
	} {
		if f.differ {
			t.Errorf("getinfo(%d).%s: ours %v, libvotequorum %v", node, f.name, f.g, f.w)
		}
	}
	t.Logf("getinfo(%d): %v (%v)", node, g, got.Error)
}

// waitQdeviceName waits until the daemon reports the quorum device name
// want: registration, rename and unregistration are applied on totem
// delivery, after the call has answered, so the two getinfo calls of
// compareInfo could otherwise straddle the change.
func waitQdeviceName(t *testing.T, or *Client, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := or.GetInfo(0)
		if err == nil && info.QdeviceName == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("quorum device name %q not applied within 5s (last: %q, %v)", want, info.QdeviceName, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sameEvents(t *testing.T, what string, ours, lib []Event) {
	t.Helper()
	if !slices.EqualFunc(ours, lib, Event.Equal) {
		t.Errorf("%s:\nours          %v\nlibvotequorum %v", what, ours, lib)
	}
}

func TestGetInfoMatchesLibvotequorum(t *testing.T) {
	c := corotest.Start(t, 2, corotest.Options{})
	n1 := c.Node(1)
	or := open(t, n1)
	ours := dial(t, n1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, node := range []uint32{0, 1, 2, 3, 0xffffffff} {
		compareInfo(t, or, ours, node)
	}

	// The same snapshot through both.
	if err := or.TrackStart(0xabc, vqwire.TrackChanges); err != nil {
		t.Fatal(err)
	}
	if r := ours.do(vqwire.Request{ID: vqwire.ReqTrackStart, Context: 0xabc, TrackFlags: vqwire.TrackChanges}); r.Error != corosync.OK {
		t.Fatal(r.Error)
	}
	lib, err := or.WaitEvents(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "trackstart snapshot", ours.events(2), lib)

	// A change made through the C library reaches both.
	if err := or.SetExpected(3); err != nil {
		t.Fatal(err)
	}
	lib, err = or.WaitEvents(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "setexpected(3)", ours.events(1), lib)
	compareInfo(t, or, ours, 0)
	if err := or.SetExpected(2); err != nil {
		t.Fatal(err)
	}
	lib, _ = or.WaitEvents(ctx, 1)
	sameEvents(t, "setexpected(2)", ours.events(1), lib)

	// Same answers to bad values.
	for _, v := range []uint32{0, 1} {
		werr := or.SetExpected(v)
		got := ours.do(vqwire.Request{ID: vqwire.ReqSetExpected, ExpectedVotes: max(v, 1)})
		if v == 1 && corosync.Code(werr) != got.Error {
			t.Errorf("setexpected(%d): libvotequorum %v, ours %v", v, werr, got.Error)
		}
		if !errors.Is(werr, corosync.ErrInvalidParam) {
			t.Errorf("setexpected(%d) through libvotequorum: %v", v, werr)
		}
	}
	if werr, got := or.SetVotes(99, 1), ours.do(vqwire.Request{ID: vqwire.ReqSetVotes, NodeID: 99, Votes: 1}); corosync.Code(werr) != got.Error {
		t.Errorf("setvotes(99): libvotequorum %v, ours %v", werr, got.Error)
	}

	// A quorum device registered through the C library, seen by both.
	if err := or.Register("oracle-dev"); err != nil {
		t.Fatal(err)
	}
	waitQdeviceName(t, or, "oracle-dev")
	compareInfo(t, or, ours, 0)
	compareInfo(t, or, ours, 2)
	if err := or.MasterWins("oracle-dev", true); err != nil {
		t.Fatal(err)
	}
	if err := or.Update("oracle-dev", "oracle-dev2"); err != nil {
		t.Fatal(err)
	}
	waitQdeviceName(t, or, "oracle-dev2")
	compareInfo(t, or, ours, 0)
	if err := or.Poll("oracle-dev2", true, vqwire.RingID{NodeID: 1, Seq: 1}); !errors.Is(err, corosync.ErrMessageError) {
		t.Errorf("poll with a wrong ring id: %v", err)
	}
	if err := or.Unregister("oracle-dev2"); err != nil {
		t.Fatal(err)
	}
	waitQdeviceName(t, or, "")
	compareInfo(t, or, ours, 0)

	// Name checks: the C library refuses a 255-byte name without IPC, with
	// CS_ERR_INVALID_PARAM; our encoder refuses it too (as NAME_TOO_LONG).
	long := strings.Repeat("n", vqwire.NameFieldSize)
	if err := or.Register(long); !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("libvotequorum register(255 bytes): %v", err)
	}
	if _, err := vqwire.AppendRequest(nil, vqwire.Request{ID: vqwire.ReqQdeviceRegister, Name: long}); !errors.Is(err, corosync.ErrNameTooLong) {
		t.Errorf("vqwire register(255 bytes): %v", err)
	}
	if fd, err := or.Fd(); err != nil || fd < 0 {
		t.Errorf("fd: %d %v", fd, err)
	}
	if err := or.TrackStop(); err != nil {
		t.Error(err)
	}
	if err := or.TrackStop(); !errors.Is(err, corosync.ErrNotExist) {
		t.Errorf("second trackstop: %v", err)
	}
}
