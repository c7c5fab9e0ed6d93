package transport

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corosync "github.com/corosync-go/corosync"
)

// With no daemon, Dial names every socket it tried (libqb's abstract name,
// then the filesystem one; the other way round with the force file), so
// the message points at what mattered.
func TestDialNotRunningNamesTheSockets(t *testing.T) {
	dir := t.TempDir()
	svc := "cgtest-" + filepath.Base(dir) // no one listens on this name
	for _, force := range []bool{false, true} {
		cfg := Config{SocketDir: dir, ForceSocketsFile: filepath.Join(dir, "absent")}
		want := "nothing listens on @" + svc + " nor on " + filepath.Join(dir, svc)
		if force {
			cfg.ForceSocketsFile = dir // exists: files first
			want = "nothing listens on " + filepath.Join(dir, svc) + " nor on @" + svc
		}
		_, err := Dial(context.Background(), svc, cfg)
		if !errors.Is(err, corosync.ErrLibrary) || !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("force=%v: %v; want ErrLibrary wrapping the connect error", force, err)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("force=%v: %v; want it to say %q", force, err, want)
		}
	}
}
