package cpg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/mock"
)

// A WithRejoin group whose rejoin the daemon refuses (access denied after a
// restart) delivers EventDisconnected and then ends with the refusal: it
// used to deliver EventDisconnected and then nothing, Next blocking until
// its deadline with Err() == nil and range over C blocking for ever (the
// group's service did not hear that its session had ended). The
// conformance suite covers it for every service ("denied"); this keeps the
// original report's steps, with only the API the old code had.
func TestMockRejoinDeniedEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := mock.NewCluster(1)
	c, err := cpg.Dial(ctx, client.WithDialer(cl.Node(1)),
		client.WithBackoff(corosync.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g, err := c.Join(ctx, "denied", cpg.WithRejoin())
	if err != nil {
		t.Fatal(err)
	}
	cl.Node(1).DenyAccess(true)
	cl.Restart(1)
	sawDisconnected := false
	for {
		ev, err := g.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the group never ended (Err() = %v): it hangs after EventDisconnected", g.Err())
			}
			if !sawDisconnected || !errors.Is(err, corosync.ErrAccess) || !errors.Is(g.Err(), corosync.ErrAccess) {
				t.Fatalf("end %v (Err %v) after disconnected=%v; want CS_ERR_ACCESS after EventDisconnected", err, g.Err(), sawDisconnected)
			}
			break
		}
		sawDisconnected = sawDisconnected || ev.Kind == corosync.EventDisconnected
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range g.C() {
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("range over C did not end")
	}
}
