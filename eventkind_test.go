package corosync_test

import (
	"encoding/json"
	"strings"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/quorum"
)

// allKinds is every kind the module declares, with the name it has had in
// every service since the kinds were per service.
var allKinds = []struct {
	k    corosync.EventKind
	name string
}{
	{corosync.EventSnapshot, "snapshot"},
	{corosync.EventDisconnected, "disconnected"},
	{corosync.EventReconnected, "reconnected"},
	{corosync.EventQuorum, "quorum"},
	{corosync.EventNodelist, "nodelist"},
	{corosync.EventExpectedVotes, "expectedvotes"},
	{corosync.EventShutdownRequest, "shutdown-request"},
	{corosync.EventShutdownTimedOut, "shutdown-timed-out"},
	{corosync.EventAdd, "add"},
	{corosync.EventDelete, "delete"},
	{corosync.EventModify, "modify"},
	{corosync.EventMessage, "message"},
	{corosync.EventConfchg, "confchg"},
	{corosync.EventTotem, "totem"},
	{corosync.EventQdeviceExtraInfo, "qdevice-extra-info"},
}

func TestEventKindNames(t *testing.T) {
	seen := map[corosync.EventKind]bool{}
	names := map[string]bool{}
	for _, c := range allKinds {
		if c.k == 0 {
			t.Errorf("%s is the zero value: a zero Event would pass for one", c.name)
		}
		if seen[c.k] || names[c.name] {
			t.Errorf("%s (%d) declared twice", c.name, uint8(c.k))
		}
		seen[c.k], names[c.name] = true, true
		if got := c.k.String(); got != c.name {
			t.Errorf("EventKind(%d).String() = %q, want %q", uint8(c.k), got, c.name)
		}
	}
	// The kinds are dense from 1: the value just past the last one, and 0,
	// have no name.
	for _, k := range []corosync.EventKind{0, corosync.EventKind(len(allKinds) + 1), 255} {
		if _, named := names[k.String()]; named || seen[k] {
			t.Errorf("EventKind(%d) is %q, a kind the table above lacks", uint8(k), k)
		}
	}
}

func TestEventKindText(t *testing.T) {
	kinds := []corosync.EventKind{0, 16, 200, 255}
	for _, c := range allKinds {
		kinds = append(kinds, c.k)
	}
	for _, k := range kinds {
		text, err := k.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%d): %v", uint8(k), err)
		}
		if string(text) != k.String() {
			t.Errorf("MarshalText(%d) = %q, String %q", uint8(k), text, k)
		}
		var back corosync.EventKind
		if err := back.UnmarshalText(text); err != nil || back != k {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d", text, uint8(back), err, uint8(k))
		}
	}
	if got := corosync.EventKind(200).String(); got != "EventKind(200)" {
		t.Errorf("unknown kind renders as %q, want EventKind(200)", got)
	}
	for _, bad := range []string{"", "Quorum", "quorum ", "EventKind(1)", "EventKind(256)", "EventKind(-1)",
		"EventKind(015)", "EventKind(+15)", "EventKind(15", "EventKind()"} {
		k := corosync.EventQuorum
		err := k.UnmarshalText([]byte(bad))
		if err == nil {
			t.Errorf("UnmarshalText(%q) accepted as %d", bad, uint8(k))
			continue
		}
		if !strings.Contains(err.Error(), "event kind") || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("UnmarshalText(%q): error %q does not name the kind and the text", bad, err)
		}
		if k != corosync.EventQuorum {
			t.Errorf("UnmarshalText(%q) failed but changed the kind to %d", bad, uint8(k))
		}
	}
}

// Every service's Event marshals its kind as the name, and reads it back.
func TestEventKindJSON(t *testing.T) {
	b, err := json.Marshal(quorum.Event{Kind: corosync.EventNodelist})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Kind":"nodelist"`) {
		t.Errorf("quorum.Event marshals as %s, want Kind \"nodelist\"", b)
	}
	var back quorum.Event
	if err := json.Unmarshal(b, &back); err != nil || back.Kind != corosync.EventNodelist {
		t.Errorf("unmarshal %s: kind %s, %v", b, back.Kind, err)
	}
	b, err = json.Marshal(map[string]corosync.EventKind{"a": corosync.EventModify, "b": 99})
	if err != nil || string(b) != `{"a":"modify","b":"EventKind(99)"}` {
		t.Errorf("kinds marshal as %s (%v)", b, err)
	}
	var ev cmap.Event
	if err := json.Unmarshal([]byte(`{"Kind":"bogus"}`), &ev); err == nil || !strings.Contains(err.Error(), `unknown event kind "bogus"`) {
		t.Errorf("an unknown name unmarshals with %v, want an error naming it", err)
	}
}

func FuzzEventKindUnmarshalText(f *testing.F) {
	for _, c := range allKinds {
		f.Add(c.name)
	}
	f.Add("EventKind(99)")
	f.Add("EventKind(0)")
	f.Fuzz(func(t *testing.T, s string) {
		var k corosync.EventKind
		if err := k.UnmarshalText([]byte(s)); err != nil {
			return
		}
		// What is accepted is exactly what MarshalText produces.
		text, _ := k.MarshalText()
		if string(text) != s {
			t.Fatalf("UnmarshalText(%q) = %d, which marshals as %q", s, uint8(k), text)
		}
	})
}
