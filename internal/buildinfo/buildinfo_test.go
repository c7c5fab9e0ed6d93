package buildinfo

import (
	"archive/zip"
	"bytes"
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

// A binary installed with `go install .../cmd/quorumwatch@v0.9.9` names
// that version: the module is served at v0.9.9 from a file proxy made of
// this checkout's tracked files (dependencies come from the module cache,
// so no network is used).
func TestRealGoInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	files, err := exec.Command("git", "-C", "../..", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	const mod, ver = "github.com/corosync-go/corosync", "v0.9.9"
	dir := t.TempDir()
	at := filepath.Join(dir, "proxy", mod, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, f := range strings.Fields(string(files)) {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			continue // deleted in the work tree
		}
		w, err := zw.Create(mod + "@" + ver + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"list": []byte(ver + "\n"), ver + ".info": []byte(`{"Version":"` + ver + `","Time":"2026-12-01T00:00:00Z"}`),
		ver + ".mod": gomod, ver + ".zip": zb.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(at, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A module cache of its own (removed at the end), whose dependencies
	// come from the shared cache's download directory, itself a proxy.
	shared, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin, cache := filepath.Join(dir, "bin"), filepath.Join(dir, "modcache")
	env := append(os.Environ(), "GOBIN="+bin, "GOMODCACHE="+cache,
		"GOPROXY=file://"+filepath.Join(dir, "proxy")+",file://"+filepath.Join(strings.TrimSpace(string(shared)), "cache", "download"),
		"GOSUMDB=off", "GOFLAGS=-mod=mod", "GOPRIVATE=", "GONOPROXY=", "GONOSUMDB=", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	t.Cleanup(func() {
		clean := exec.Command("go", "clean", "-modcache")
		clean.Env = env
		clean.Run() // its files are read-only: TempDir alone cannot remove them
	})
	cmd := exec.Command("go", "install", mod+"/cmd/quorumwatch@"+ver)
	cmd.Dir = dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "quorumwatch"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "quorumwatch, version v0.9.9\n") {
		t.Fatalf("--version of the installed binary: %v: %q", err, out)
	}
}
