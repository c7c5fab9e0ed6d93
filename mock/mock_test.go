package mock

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func req(t *testing.T, c *conn, id int32, arg uint32) quorumwire.Response {
	t.Helper()
	b, err := c.Request(context.Background(), quorumwire.AppendRequest(nil, id, arg), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := quorumwire.DecodeResponse(b, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func events(c *conn) []quorumwire.Notification {
	var out []quorumwire.Notification
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		c.qmu.Lock()
		n := len(c.queue)
		c.qmu.Unlock()
		if n == 0 {
			return out
		}
		b, err := c.ReadEvent(ctx)
		if err != nil {
			return out
		}
		nt, _ := quorumwire.DecodeEvent(b)
		out = append(out, nt)
	}
}

// The daemon's trackstart rules (corosync exec/vsf_quorum.c, message_handler_req_lib_quorum_trackstart).
func TestTrackStartSemantics(t *testing.T) {
	cl := NewCluster(2)
	tc, err := cl.Node(1).Dial(context.Background(), "quorum")
	if err != nil {
		t.Fatal(err)
	}
	c := tc.(*conn)
	defer c.Close()
	if r := req(t, c, quorumwire.ReqModelGetType, 7); r.Error != corosync.ErrInvalidParam || r.Value != 1 {
		t.Fatalf("bad model: %+v", r)
	}
	req(t, c, quorumwire.ReqModelGetType, quorumwire.ModelV1)
	// CURRENT only: snapshot, not tracking.
	if r := req(t, c, quorumwire.ReqTrackStart, quorumwire.TrackCurrent); r.Error != corosync.OK {
		t.Fatal(r)
	}
	if ev := events(c); len(ev) != 2 || ev[0].ID != quorumwire.EvV1NodelistNotification || ev[1].ID != quorumwire.EvV1QuorumNotification {
		t.Fatalf("snapshot %+v", ev)
	}
	cl.Stop(2)
	if ev := events(c); len(ev) != 0 {
		t.Fatalf("CURRENT-only got changes %+v", ev)
	}
	// CHANGES_ONLY: no snapshot, tracking.
	req(t, c, quorumwire.ReqTrackStart, quorumwire.TrackChangesOnly)
	if ev := events(c); len(ev) != 0 {
		t.Fatalf("CHANGES_ONLY sent a snapshot")
	}
	// Repeat: EXIST, and the snapshot is still sent.
	if r := req(t, c, quorumwire.ReqTrackStart, quorumwire.TrackChanges); r.Error != corosync.ErrExist {
		t.Fatalf("repeat trackstart %+v", r)
	}
	if ev := events(c); len(ev) != 2 {
		t.Fatalf("EXIST without snapshot: %+v", ev)
	}
	cl.Start(2)
	if ev := events(c); len(ev) != 2 || len(ev[0].Joined) != 1 {
		t.Fatalf("join events %+v", ev)
	}
	// Trackstop is always OK, even when not tracking.
	for range 2 {
		if r := req(t, c, quorumwire.ReqTrackStop, 0); r.Error != corosync.OK {
			t.Fatal(r)
		}
	}
	// Unknown request ids get the generic reject.
	b, _ := c.Request(context.Background(), quorumwire.AppendRequest(nil, 99, 0), nil)
	if h, _ := wire.DecodeResponseHeader(b); h.ID != 0 || h.Error != corosync.ErrInvalidParam {
		t.Fatalf("reject %+v", h)
	}
}

func TestClosedAndKilledConns(t *testing.T) {
	cl := NewCluster(1)
	tc, _ := cl.Node(1).Dial(context.Background(), "quorum")
	cl.Kill(1)
	if _, err := tc.ReadEvent(context.Background()); !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("ReadEvent after kill: %v", err)
	}
	if _, err := tc.Request(context.Background(), quorumwire.AppendRequest(nil, 0, 0), nil); !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("Request after kill: %v", err)
	}
	tc.Close()
	if _, err := tc.ReadEvent(context.Background()); !errors.Is(err, corosync.ErrBadHandle) {
		t.Fatalf("ReadEvent after Close: %v", err)
	}
	if _, err := cl.Node(1).Dial(context.Background(), "nosuchservice"); !errors.Is(err, corosync.ErrLibrary) {
		t.Fatalf("unknown service: %v", err)
	}
}
