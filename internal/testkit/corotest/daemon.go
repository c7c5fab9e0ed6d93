//go:build linux

package corotest

import (
	"bufio"
	"cmp"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corosync "github.com/corosync-go/corosync"
)

// EnvCache names the variable holding the cache directory that
// scripts/build-daemons.sh builds into (default /var/cache/corosync-go);
// the builds are in its daemons/ folder.
const EnvCache = "COROSYNC_GO_CACHE"

// MatrixDaemons names the daemons of the version matrix: the system's and
// the ones scripts/build-daemons.sh builds.
var MatrixDaemons = []string{SystemDaemon, "2.4.6", "3.0.4", "3.1.10", "main", "3.1.10-qb1.0.3"}

// Daemon is one corosync build: its daemon, tools, client libraries and
// headers under one prefix.
type Daemon struct {
	// Name is "system" or the build's name in the cache ("2.4.6", "main",
	// "3.1.10-qb1.0.3", ...).
	Name string
	// Prefix holds sbin/corosync, the corosync-* tools, lib/ and
	// include/corosync; "/usr" for the system's. "" when not installed.
	Prefix string
	// Version is what corosync -v reports: "3.1.7", "2.4.6",
	// "3.1.10.65235a81".
	Version      string
	Major, Minor int
	// LibQB is the libqb soname corosync loads: "libqb.so.100" (libqb 2)
	// or "libqb.so.0" (libqb 1.0).
	LibQB string
}

// String returns "name (version)".
func (d Daemon) String() string {
	if d.Version == "" {
		return d.Name
	}
	return d.Name + " (" + d.Version + ")"
}

// Bin returns the path of the daemon's program name: "corosync",
// "corosync-quorumtool", "corosync-cmapctl", "corosync-cfgtool", ...
func (d Daemon) Bin(name string) string {
	p := filepath.Join(d.Prefix, "sbin", name)
	if _, err := os.Stat(p); err != nil {
		if q := filepath.Join(d.Prefix, "bin", name); fileExists(q) {
			return q
		}
	}
	return p
}

// IncludeDir returns the directory holding corosync/*.h.
func (d Daemon) IncludeDir() string { return filepath.Join(d.Prefix, "include") }

// LibDir returns the directory holding the client libraries (libquorum.so,
// libvotequorum.so, libcfg.so, libcmap.so, libcpg.so). A build's binaries
// and libraries find their own libraries there by rpath.
func (d Daemon) LibDir() string {
	if d.System() {
		if m, _ := filepath.Glob(filepath.Join(d.Prefix, "lib", "*", "libquorum.so*")); len(m) > 0 {
			return filepath.Dir(m[0])
		}
	}
	return filepath.Join(d.Prefix, "lib")
}

// System reports whether this is the distribution's corosync.
func (d Daemon) System() bool { return d.Name == SystemDaemon }

// Knet reports whether the daemon has the knet transport (3.x); 2.x runs
// totem over udpu.
func (d Daemon) Knet() bool { return d.Major >= 3 }

// HasDashC reports whether corosync takes its configuration file with -c
// (3.x); 2.x reads it from COROSYNC_MAIN_CONFIG_FILE.
func (d Daemon) HasDashC() bool { return d.Major >= 3 }

// QB1 reports whether the daemon runs on libqb 1.0 (libqb.so.0), which needs
// system.sched_rr off and knows no hires timestamps.
func (d Daemon) QB1() bool { return d.LibQB == "libqb.so.0" }

// Missing returns why the daemon cannot run, or "".
func (d Daemon) Missing() string {
	if d.Prefix == "" {
		if d.System() {
			return "corosync not found (run ./scripts/install-deps.sh)"
		}
		return fmt.Sprintf("daemon %q is not built in %s (run `make daemons` or ./scripts/build-daemons.sh %s)", d.Name, DaemonCache(), d.Name)
	}
	for _, bin := range []string{"corosync", "corosync-cmapctl", "corosync-quorumtool"} {
		if !fileExists(d.Bin(bin)) {
			return fmt.Sprintf("%s not found in %s", bin, d)
		}
	}
	return ""
}

// DaemonCache returns the directory holding the builds of
// scripts/build-daemons.sh.
func DaemonCache() string {
	dir := os.Getenv(EnvCache)
	if dir == "" {
		dir = "/var/cache/corosync-go"
	}
	return filepath.Join(dir, "daemons")
}

// Daemons returns the system's corosync (when /usr/sbin/corosync exists)
// and every complete build in DaemonCache(), the system's first and the
// builds by version.
func Daemons() []Daemon {
	var ds []Daemon
	if fileExists("/usr/sbin/corosync") {
		ds = append(ds, probe(SystemDaemon, "/usr"))
	}
	ents, _ := os.ReadDir(DaemonCache())
	var builds []Daemon
	for _, e := range ents {
		p := filepath.Join(DaemonCache(), e.Name())
		// A build is complete once renamed into place with its stamp;
		// libqb's prefix has no corosync.
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || !fileExists(filepath.Join(p, ".stamp")) || !fileExists(filepath.Join(p, "sbin", "corosync")) {
			continue
		}
		builds = append(builds, probe(e.Name(), p))
	}
	slices.SortFunc(builds, func(a, b Daemon) int {
		return cmp.Or(compareVersions(a.Version, b.Version), cmp.Compare(a.Name, b.Name))
	})
	return append(ds, builds...)
}

// LookupDaemon returns the daemon called name, if it is installed.
func LookupDaemon(name string) (Daemon, bool) {
	for _, d := range Daemons() {
		if d.Name == name {
			return d, true
		}
	}
	return Daemon{Name: name}, false
}

// DefaultDaemon returns the daemon that COROSYNC_GO_DAEMON names ("system"
// when unset). When it is not installed, its Prefix is "" and Missing (so
// Require) says so.
func DefaultDaemon() Daemon {
	name := os.Getenv(EnvDaemon)
	if name == "" {
		name = SystemDaemon
	}
	d, _ := LookupDaemon(name)
	return d
}

var (
	probeMu    sync.Mutex
	probeCache = map[string]Daemon{}
	versionRE  = regexp.MustCompile(`version '([^']+)'`)
)

// probe reads a daemon's version (the build's BUILDINFO, or corosync -v)
// and the libqb its corosync loads (its ELF NEEDED entries).
func probe(name, prefix string) Daemon {
	probeMu.Lock()
	defer probeMu.Unlock()
	key := name + "\x00" + prefix
	if d, ok := probeCache[key]; ok {
		return d
	}
	d := Daemon{Name: name, Prefix: prefix}
	d.Version = buildInfo(prefix)["version"]
	if d.Version == "" {
		out, _ := exec.Command(d.Bin("corosync"), "-v").Output()
		if m := versionRE.FindSubmatch(out); m != nil {
			d.Version = string(m[1])
		}
	}
	if f := strings.SplitN(d.Version, ".", 3); len(f) >= 2 {
		d.Major, _ = strconv.Atoi(f[0])
		d.Minor, _ = strconv.Atoi(f[1])
	}
	if f, err := elf.Open(d.Bin("corosync")); err == nil {
		libs, _ := f.ImportedLibraries()
		f.Close()
		for _, l := range libs {
			if strings.HasPrefix(l, "libqb.so") {
				d.LibQB = l
			}
		}
	}
	probeCache[key] = d
	return d
}

// buildInfo reads the key=value lines scripts/build-daemons.sh writes to
// PREFIX/BUILDINFO.
func buildInfo(prefix string) map[string]string {
	m := map[string]string{}
	f, err := os.Open(filepath.Join(prefix, "BUILDINFO"))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

// compareVersions orders dotted versions numerically field by field (a
// field that is not a number sorts after numbers, as text).
func compareVersions(a, b string) int {
	fa, fb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(fa) && i < len(fb); i++ {
		na, ea := strconv.Atoi(fa[i])
		nb, eb := strconv.Atoi(fb[i])
		switch {
		case ea == nil && eb == nil:
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		default:
			if c := cmp.Compare(fa[i], fb[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(fa), len(fb))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// resolveTool maps a bare corosync tool name ("corosync-cmapctl") to the
// daemon's own program, when it has one; other names are left to PATH.
func (d Daemon) resolveTool(name string) string {
	if d.Prefix == "" || strings.ContainsRune(name, '/') || !strings.HasPrefix(name, "corosync") {
		return name
	}
	if p := d.Bin(name); fileExists(p) {
		return p
	}
	return name
}

// ReleaseLine is the release line the library's probe must take d for (see
// corosync.Version): 2.x is 2.4, 3.0 and 3.1.0-3.1.5 read as 3.0, the rest
// as 3.1.6. Tests gate on it rather than on a client's DaemonVersion, which
// they check against it.
func (d Daemon) ReleaseLine() corosync.Version {
	var major, minor, patch int
	fmt.Sscanf(d.Version, "%d.%d.%d", &major, &minor, &patch)
	switch {
	case major == 2:
		return corosync.Version2_4
	case major == 3 && (minor == 0 || minor == 1 && patch < 6):
		return corosync.Version3_0
	}
	return corosync.Version3_1_6
}

// VotequorumLine is what a votequorum client must take d for: its
// ReleaseLine, but corosync.VersionMain on the main build (votequorum has
// requests only main defines, so its probe tells main apart).
func (d Daemon) VotequorumLine() corosync.Version {
	if d.Name == "main" {
		return corosync.VersionMain
	}
	return d.ReleaseLine()
}

// Matrix runs fn once per corosync daemon: the one COROSYNC_GO_DAEMON names
// when it is set, else every daemon of the version matrix (MatrixDaemons),
// each as a subtest named after it. A daemon that is not built fails its
// subtest under COROSYNC_GO_INTEGRATION=require (Start) and skips it
// otherwise.
func Matrix(t *testing.T, fn func(t *testing.T, d Daemon)) {
	names := MatrixDaemons
	if os.Getenv(EnvDaemon) != "" {
		names = []string{DefaultDaemon().Name}
	}
	for _, name := range names {
		d, _ := LookupDaemon(name)
		t.Run(name, func(t *testing.T) { fn(t, d) })
	}
}

// EnvCycles names the variable that scales the repeat counts of the
// goodbye tests: COROSYNC_GO_CYCLES=100 runs 100 cycles where the issue's
// measure is 300 (make test uses it for the race run and the builds beyond the
// system daemon, which runs the full measure).
const EnvCycles = "COROSYNC_GO_CYCLES"

// Cycles returns the repeat count of a cycle test: COROSYNC_GO_CYCLES when
// it is a positive number, else n.
func Cycles(n int) int {
	if v, err := strconv.Atoi(os.Getenv(EnvCycles)); err == nil && v > 0 {
		return v
	}
	return n
}
