package corosync

import (
	"fmt"
	"strconv"
)

// Version is a corosync release number, such as 3.1.6.
//
// A client learns what its daemon is when it connects, before it sends the
// service anything, using only requests that every corosync since 2.4
// answers (cmap reads of keys that each release line introduced). What it
// learns is a lower bound: the oldest release with everything the daemon
// showed. A client refuses, with ErrNotSupported and before anything is
// sent, every request that the daemon's release may not define. See each
// client's DaemonVersion method.
//
// The release lines it tells apart are:
//
//   - 2.4: corosync 2.x (no knet, no stats map).
//   - 3.0: corosync 3.0.x, and also 3.1.0 to 3.1.5, whose IPC shows nothing
//     that tells them from 3.0 without a request 3.0 does not define.
//   - 3.1.6: corosync 3.1.6 and every later release (main too, to a client
//     that has no request only main defines).
//   - main (VersionMain): corosync's unreleased main branch, which defines
//     requests no release has yet (votequorum's quorum device extra info).
//     Only a client with such requests (votequorum) tells it apart: it
//     asks cpg one more question on a 3.1.6 daemon (see votequorum.Client's
//     DaemonVersion).
type Version struct {
	Major, Minor, Patch uint8
}

// The release lines a daemon is told apart by (see Version).
var (
	Version2_4   = Version{2, 4, 0}
	Version3_0   = Version{3, 0, 0}
	Version3_1_0 = Version{3, 1, 0}
	Version3_1_1 = Version{3, 1, 1}
	Version3_1_6 = Version{3, 1, 6}
	// VersionMain is corosync's main branch: later than every release, so
	// AtLeast holds against all of them. It renders as "main".
	VersionMain = Version{Major: 255}
)

// String formats v as "major.minor" when Patch is 0 ("3.0"), else as
// "major.minor.patch" ("3.1.6"). The zero Version is "unknown" and
// VersionMain is "main".
func (v Version) String() string {
	switch v {
	case Version{}:
		return "unknown"
	case VersionMain:
		return "main"
	}
	s := strconv.Itoa(int(v.Major)) + "." + strconv.Itoa(int(v.Minor))
	if v.Patch != 0 {
		s += "." + strconv.Itoa(int(v.Patch))
	}
	return s
}

// AtLeast reports whether v is o or a later release.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

// MarshalText renders v as String does, for JSON and logs.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses what MarshalText produces: "major.minor",
// "major.minor.patch", "main" or "unknown" (the zero Version).
func (v *Version) UnmarshalText(b []byte) error {
	switch string(b) {
	case "main":
		*v = VersionMain
		return nil
	case "unknown":
		*v = Version{}
		return nil
	}
	var n [3]uint64
	parts := 0
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != '.' {
			continue
		}
		if parts == 3 {
			return fmt.Errorf("corosync: version %q: more than three numbers", b)
		}
		x, err := strconv.ParseUint(string(b[start:i]), 10, 8)
		if err != nil {
			return fmt.Errorf("corosync: version %q: %w", b, err)
		}
		n[parts] = x
		parts++
		start = i + 1
	}
	if parts < 2 {
		return fmt.Errorf("corosync: version %q: want major.minor[.patch]", b)
	}
	*v = Version{uint8(n[0]), uint8(n[1]), uint8(n[2])}
	return nil
}
