package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// A binary installed with `go install module/cmd/x@v0.3.0` carries the
// module version and no VCS settings.
func TestGoInstall(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/corosync-go/corosync", Version: "v0.3.0"}}
	got := fromBuildInfo(bi, "").String("quorumwatch")
	if !strings.HasPrefix(got, "quorumwatch, version v0.3.0\n  go version:       go1.26.8\n") {
		t.Fatalf("%q", got)
	}
}

// A build from a git checkout carries the pseudo-version and the revision;
// a link-time stamp wins over the module version.
func TestCheckoutAndStamp(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207003626-1abcdea12345+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1abcdea12345"}, {Key: "vcs.time", Value: "2026-12-07T00:36:26Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := fromBuildInfo(bi, "").String("x")
	if !strings.HasPrefix(got, "x, version v0.0.0-20261207003626-1abcdea12345+dirty (revision: 1abcdea12345, modified)\n  build date:       2026-12-07T00:36:26Z\n") {
		t.Fatalf("%q", got)
	}
	if got := fromBuildInfo(bi, "v1.2.3").Version; got != "v1.2.3" {
		t.Fatalf("stamped version %q", got)
	}
	if got := fromBuildInfo(nil, "").Version; got != "(devel)" {
		t.Fatalf("no build info: %q", got)
	}
}

// A binary built as make dist builds it names the version and commit it
// was stamped with; one built by plain `go build -buildvcs=true` in a git
// checkout names the checkout's commit (the go command stamps VCS data only
// where .git is a directory: not in a `git worktree`, which is said and
// skipped).
func TestRealBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	head := strings.TrimSpace(string(rev))
	dir := t.TempDir()
	version := func(flags ...string) string {
		t.Helper()
		bin := filepath.Join(dir, "qw")
		args := append(append([]string{"build", "-o", bin}, flags...), "../../cmd/quorumwatch")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("build: %v: %s", err, out)
		}
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("--version: %v: %s", err, out)
		}
		return string(out)
	}
	pkg := "github.com/corosync-go/corosync/internal/buildinfo"
	got := version("-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".revision="+head)
	if !strings.HasPrefix(got, "quorumwatch, version v9.8.7 (revision: "+head+")\n") {
		t.Fatalf("stamped build: --version printed %q; HEAD is %s", got, head)
	}
	gitDir, _ := exec.Command("git", "rev-parse", "--git-dir").Output()
	if fi, err := os.Stat(filepath.Join("../..", ".git")); err != nil || !fi.IsDir() {
		t.Skipf("git worktree (%s): the go command records no VCS data here", strings.TrimSpace(string(gitDir)))
	}
	got = version("-buildvcs=true")
	if !strings.HasPrefix(got, "quorumwatch, version v0.0.0-") || !strings.Contains(got, "(revision: "+head) {
		t.Fatalf("checkout build: --version printed %q; HEAD is %s", got, head)
	}
}
