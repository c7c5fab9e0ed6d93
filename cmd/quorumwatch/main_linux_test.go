package main

import (
	"context"
	"strings"
	"testing"

	"github.com/corosync-go/corosync/internal/corotest"
)

func TestRealDaemon(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	ctx := context.Background()
	code, out, _ := runQW(t, ctx, "-once", "-netns", n.NetNSPath())
	if code != 0 || !strings.Contains(out, "quorate, ring 1.") {
		t.Fatalf("quorate daemon: exit %d, %q", code, out)
	}
	if err := n.SetExpectedVotes(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runQW(t, ctx, "-once", "-json", "-netns", n.NetNSPath()); code != 2 || !strings.Contains(out, `"quorate":false`) {
		t.Fatalf("inquorate daemon: exit %d, %q", code, out)
	}
	n.SetExpectedVotes(ctx, 1)
	n.Stop()
	if code, _, _ := runQW(t, ctx, "-once", "-timeout", "500ms", "-netns", n.NetNSPath()); code != 1 {
		t.Fatalf("stopped daemon: exit %d", code)
	}
}
