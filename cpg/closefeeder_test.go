package cpg_test

import (
	"context"
	"testing"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/mock"
)

// A program that selects on C and leaves its loop (its ctx ended) closes
// the group while C's feeder is reading the connection inline: Close must
// still return (it hung, waiting for the feeder stuck in its read).
func TestCloseWhileFeederReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := mock.NewCluster(1)
	c, err := cpg.Dial(ctx, client.WithDialer(cl.Node(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 20; i++ {
		g, err := c.Join(ctx, "feeder")
		if err != nil {
			t.Fatal(err)
		}
		ch := g.C()
	quiet: // read the join's confchg and totem event: then the feeder waits in a read
		for {
			select {
			case <-ch:
			case <-time.After(50 * time.Millisecond):
				break quiet
			}
		}
		done := make(chan error, 1)
		go func() { done <- g.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("close %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("close %d: Close did not return while C's feeder read inline", i)
		}
	}
}
