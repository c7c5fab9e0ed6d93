//go:build linux

package cmapwire

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/transport"
)

// raw is a connection to a real daemon's cmap service sending hand-built
// requests.
type raw struct {
	t    testing.TB
	node *corotest.Node
	c    *transport.IPCConn
	buf  []byte
}

func dialRaw(t testing.TB, node *corotest.Node) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "cmap", transport.Config{NetNS: node.NetNSPath()})
	if err != nil {
		t.Fatalf("dial cmap: %v", err)
	}
	r := &raw{t: t, node: node, c: c, buf: make([]byte, 0, 1<<20)}
	t.Cleanup(func() { c.Close() })
	return r
}

// send sends req and returns a copy of the response bytes.
func (r *raw) send(req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.c.Request(ctx, req, r.buf)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), resp...), nil
}

// alive checks that the node's daemon is the same process and still answers
// corosync-cmapctl.
func alive(node *corotest.Node, pid int) error {
	if !node.Running() || node.Pid() != pid {
		return fmt.Errorf("corosync (pid %d) is gone", pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := node.Exec(ctx, "corosync-cmapctl", "-g", "totem.cluster_name")
	if err != nil || !strings.Contains(string(out), "totem.cluster_name (str) = ") {
		return fmt.Errorf("corosync-cmapctl -g totem.cluster_name: %v: %s", err, out)
	}
	if !node.Running() || node.Pid() != pid {
		return fmt.Errorf("corosync (pid %d) is gone", pid)
	}
	return nil
}
