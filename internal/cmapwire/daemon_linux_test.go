//go:build linux

package cmapwire

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/corotest"
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

// call sends req (a request with id) and decodes the response.
func (r *raw) call(id int32, req []byte) (Response, []byte) {
	r.t.Helper()
	b, err := r.send(req)
	if err != nil {
		r.t.Fatalf("%s: %v", RequestName(id), err)
	}
	resp, err := DecodeResponse(b, id)
	if err != nil {
		r.t.Fatalf("%s: decode %x: %v", RequestName(id), b, err)
	}
	return resp, b
}

// event reads one event within d.
func (r *raw) event(d time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b, err := r.c.ReadEvent(ctx)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
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

// capture writes b as a fuzz seed for target when CMAPWIRE_CAPTURE=1, so the
// seeds in testdata/fuzz are bytes a real daemon sent (or accepted).
func capture(t testing.TB, target, name string, b []byte, reqID ...int32) {
	if os.Getenv("CMAPWIRE_CAPTURE") != "1" {
		return
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n[]byte(\"")
	for _, c := range b {
		fmt.Fprintf(&sb, "\\x%02x", c)
	}
	sb.WriteString("\")\n")
	for _, id := range reqID {
		fmt.Fprintf(&sb, "int32(%d)\n", id)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hexdump(b []byte) string {
	if len(b) > 400 {
		return hex.EncodeToString(b[:400]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return hex.EncodeToString(b)
}
