package cfg

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTrackerEvents checks the event mapping without a daemon: requests,
// the timeout notice, unknown ids ignored, garbage refused.
func TestTrackerEvents(t *testing.T) {
	tr := &tracker{c: &Client{tracking: true}, state: Event{Kind: corosync.EventSnapshot, Connected: true, Tracking: true, LocalNodeID: 4}}
	ev, ok, err := tr.Event(cfgwire.AppendEvent(nil, cfgwire.Event{ID: cfgwire.EvTestShutdown, Flags: cfgwire.ShutdownRegardless}))
	if err != nil || !ok || ev.Kind != corosync.EventShutdownRequest || ev.Flags != ShutdownRegardless || ev.LocalNodeID != 4 {
		t.Fatalf("request: %v %v %v", ev, ok, err)
	}
	ev, ok, err = tr.Event(cfgwire.AppendEvent(nil, cfgwire.Event{ID: cfgwire.EvTestShutdown, Error: corosync.ErrTimeout}))
	if err != nil || !ok || ev.Kind != corosync.EventShutdownTimedOut {
		t.Fatalf("timeout notice: %v %v %v", ev, ok, err)
	}
	if ev, ok, err = tr.Event(cfgwire.AppendEvent(nil, cfgwire.Event{ID: 77})); err != nil || ok {
		t.Fatalf("unknown id: %v %v %v", ev, ok, err)
	}
	if _, _, err = tr.Event([]byte{1, 2, 3}); err == nil || !errors.Is(err, corosync.ErrMessageError) {
		t.Fatalf("garbage: %v", err)
	}
	if s := tr.Snapshot(ev); s.Kind != corosync.EventSnapshot || s.Flags != 0 {
		t.Fatalf("snapshot: %v", s)
	}
	if l := tr.Lost(nil); l.Kind != corosync.EventDisconnected || l.Connected || tr.state.Tracking {
		t.Fatalf("lost: %v", l)
	}
}

// Faulty reads both forms of ring status: knet's per-host characters and
// the udp/udpu sentence of corosync 2.x (as measured on 2.4.6 and 3.1.7).
func TestRingInterfaceFaulty(t *testing.T) {
	for _, tc := range []struct {
		r    RingInterface
		want bool
	}{
		{RingInterface{"0 192.0.2.1", "n33"}, false},
		{RingInterface{"0 192.0.2.1", "n37"}, false},
		{RingInterface{"0 192.0.2.1", "n31"}, true},
		{RingInterface{"0 192.0.2.1", "3n1"}, true},
		{RingInterface{"0 192.0.2.1", "n?3"}, true},
		{RingInterface{"1 192.0.3.1", "ndd"}, false},
		{RingInterface{"192.0.2.1", "ring 0 active with no faults"}, false},
		{RingInterface{"192.0.2.1", "Marking ringid 0 interface 192.0.2.1 FAULTY"}, true},
		{RingInterface{"192.0.2.1", "ring 1 FAULTY"}, true},
	} {
		if got := tc.r.Faulty(); got != tc.want {
			t.Errorf("%+v.Faulty() = %v, want %v", tc.r, got, tc.want)
		}
	}
}
