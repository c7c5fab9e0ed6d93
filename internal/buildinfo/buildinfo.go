// Package buildinfo says which build of a command is running, for the
// commands' --version: the version stamped at link time by `make dist`
// (-ldflags "-X github.com/corosync-go/corosync/internal/buildinfo.version=..."),
// and ...buildinfo.revision=...), else what the Go toolchain recorded in the binary: the module version of
// `go install module/cmd/x@version`, or the pseudo-version and VCS revision
// of a build from a git checkout.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and revision are set by the linker in release builds (make
// dist); a stamp wins over what the toolchain recorded.
var version, revision string

// Info is what is known about the running build.
type Info struct {
	Version   string // "v0.3.0", a pseudo-version, or "(devel)"
	Revision  string // the VCS commit, "" when unknown
	Time      string // the commit time (RFC 3339), "" when unknown
	Modified  bool   // the checkout had uncommitted changes
	GoVersion string // the toolchain that built the binary
	Platform  string // GOOS/GOARCH
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	in := fromBuildInfo(bi, version)
	if revision != "" {
		in.Revision = revision
	}
	return in
}

// fromBuildInfo makes an Info of the toolchain's record bi (nil when the
// binary has none) and the link-time version stamp (may be empty).
func fromBuildInfo(bi *debug.BuildInfo, stamped string) Info {
	in := Info{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			in.Version = v
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.time":
				in.Time = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if stamped != "" {
		in.Version = stamped
	}
	return in
}

// String formats in for command's --version, in the layout of the
// Prometheus exporters' version output:
//
//	corosync-exporter, version v0.3.0 (revision: 1abcdea…, modified)
//	  build date:       2026-12-07T00:36:26Z
//	  go version:       go1.26.8
//	  platform:         linux/amd64
func (in Info) String(command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, version %s", command, in.Version)
	var paren []string
	if in.Revision != "" {
		paren = append(paren, "revision: "+in.Revision)
	}
	if in.Modified {
		paren = append(paren, "modified")
	}
	if len(paren) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(paren, ", "))
	}
	b.WriteString("\n")
	if in.Time != "" {
		fmt.Fprintf(&b, "  build date:       %s\n", in.Time)
	}
	fmt.Fprintf(&b, "  go version:       %s\n", in.GoVersion)
	fmt.Fprintf(&b, "  platform:         %s\n", in.Platform)
	return b.String()
}
