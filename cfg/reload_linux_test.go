package cfg_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// Reload makes the daemon re-read corosync.conf: a changed totem.token is
// visible in cmap afterwards (the key and its runtime.config copy).
func TestRealReloadChangesCmap(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cfg.Dial(ctx, client.WithDialer(n.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := cmap.Dial(ctx, client.WithDialer(n.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if v, err := m.GetUint32(ctx, "totem.token"); err != nil || v != 1000 {
		t.Fatalf("totem.token before reload: %d %v", v, err)
	}
	conf, err := os.ReadFile(n.ConfPath())
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(conf), "token: 1000", "token: 1700", 1)
	if changed == string(conf) {
		t.Fatal("no token line in the test configuration")
	}
	if err := os.WriteFile(n.ConfPath(), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := m.GetUint32(ctx, "totem.token"); err != nil || v != 1700 {
		t.Fatalf("totem.token after reload: %d %v", v, err)
	}
	if v, err := m.GetUint32(ctx, "runtime.config.totem.token"); err != nil || v != 1700 {
		t.Fatalf("runtime.config.totem.token after reload: %d %v", v, err)
	}
}
