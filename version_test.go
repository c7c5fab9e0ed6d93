package corosync_test

import (
	"testing"

	corosync "github.com/corosync-go/corosync"
)

// Every release line and main render and parse back, main orders after
// every release, and bad text is refused with an error naming it.
func TestVersionText(t *testing.T) {
	for _, c := range []struct {
		v    corosync.Version
		text string
	}{
		{corosync.Version2_4, "2.4"},
		{corosync.Version3_0, "3.0"},
		{corosync.Version3_1_6, "3.1.6"},
		{corosync.VersionMain, "main"},
		{corosync.Version{}, "unknown"},
	} {
		if got := c.v.String(); got != c.text {
			t.Errorf("%#v.String() = %q, want %q", c.v, got, c.text)
		}
		var back corosync.Version
		if err := back.UnmarshalText([]byte(c.text)); err != nil || back != c.v {
			t.Errorf("UnmarshalText(%q) = %v, %v", c.text, back, err)
		}
	}
	for _, v := range []corosync.Version{corosync.Version2_4, corosync.Version3_1_6, {Major: 4}} {
		if !corosync.VersionMain.AtLeast(v) || v.AtLeast(corosync.VersionMain) {
			t.Errorf("main is not after %v", v)
		}
	}
	for _, bad := range []string{"", "3", "3.1.6.1", "x.y", "Main", "256.0"} {
		var v corosync.Version
		if err := v.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted %v", bad, v)
		}
	}
}

func FuzzVersionText(f *testing.F) {
	for _, s := range []string{"2.4", "3.1.6", "main", "1.2.3", "255.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v corosync.Version
		if err := v.UnmarshalText([]byte(s)); err != nil {
			return
		}
		var back corosync.Version
		if err := back.UnmarshalText([]byte(v.String())); err != nil || back != v {
			t.Fatalf("%q -> %v -> %q -> %v (%v)", s, v, v.String(), back, err)
		}
	})
}
