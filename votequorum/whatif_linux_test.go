package votequorum_test

import (
	"slices"
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// sameOutcome compares a prediction with what the daemon reports.
func sameOutcome(o votequorum.Outcome, i votequorum.Info) bool {
	return o.NodeID == i.NodeID && o.Quorate == i.Quorate() && o.Quorum == i.Quorum &&
		o.TotalVotes == i.TotalVotes && o.ExpectedVotes == i.NodeExpectedVotes &&
		o.HighestExpected == i.HighestExpected && o.Flags == i.Flags
}

// checkWhatIf stops the nodes of a prediction made on client c and
// compares the prediction with what the node it names then reports.
func checkWhatIf(t *testing.T, cl *corotest.Cluster, c *votequorum.Client, ch votequorum.Change) votequorum.Outcome {
	t.Helper()
	o, err := c.WhatIf(ctxT(t, 10*time.Second), ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("what if %+v: %v", ch, o)
	for _, id := range ch.StopNodes {
		if err := cl.Node(id).Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ch.FailNodes {
		if err := cl.Node(id).Kill(); err != nil {
			t.Fatal(err)
		}
	}
	n := cl.Node(o.NodeID)
	if err := n.WaitMembers(ctxT(t, 30*time.Second), o.Members...); err != nil {
		t.Fatal(err)
	}
	v := dial(t, n)
	var last votequorum.Info
	for range 50 {
		if last, err = v.Info(ctxT(t, 10*time.Second), 0); err == nil && sameOutcome(o, last) {
			return o
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("what if %+v:\npredicted %v\nreal      %v (%v)", ch, o, last, err)
	return o
}

// TestWhatIf predicts, then stops the nodes and compares.
func TestWhatIf(t *testing.T) {
	cl := corotest.Start(t, 3, corotest.Options{})
	c := dial(t, cl.Node(1))
	waitEvent(t, subscribe(t, c), votequorum.EventSnapshot, nil)

	// Nothing changes: the present state.
	o, err := c.WhatIf(ctxT(t, 10*time.Second), votequorum.Change{})
	if err != nil {
		t.Fatal(err)
	}
	now, _ := c.Info(ctxT(t, 10*time.Second), 0)
	if !sameOutcome(o, now) || !slices.Equal(o.Members, []uint32{1, 2, 3}) {
		t.Fatalf("no change: %v, now %v", o, now)
	}
	// Node 1 stopping: node 2's view.
	if o, _ := c.WhatIf(ctxT(t, 10*time.Second), votequorum.Change{StopNodes: []uint32{1, 3}}); o.NodeID != 2 || o.Quorate {
		t.Errorf("without 1 and 3: %v", o)
	}
	if o := checkWhatIf(t, cl, c, votequorum.Change{StopNodes: []uint32{3}}); !o.Quorate {
		t.Errorf("%v", o)
	}
	// The client follows the new membership before predicting again.
	waitEvent(t, subscribe(t, c), votequorum.EventSnapshot, func(e votequorum.Event) bool { return len(e.Members) == 2 })
	if o := checkWhatIf(t, cl, c, votequorum.Change{FailNodes: []uint32{2}}); o.Quorate {
		t.Errorf("%v", o)
	}
}

// TestWhatIfLastManStanding predicts a last_man_standing cluster's quorum
// right after losing nodes and once the window has elapsed.
func TestWhatIfLastManStanding(t *testing.T) {
	const window = 1500 * time.Millisecond
	cl := corotest.Start(t, 4, corotest.Options{Votequorum: corotest.Votequorum{LastManStanding: true, LastManStandingWindowMS: int(window / time.Millisecond)}})
	c := dial(t, cl.Node(1))
	waitEvent(t, subscribe(t, c), votequorum.EventSnapshot, nil)
	o := checkWhatIf(t, cl, c, votequorum.Change{FailNodes: []uint32{4}})
	if o.AfterWindow == nil {
		t.Fatal("no AfterWindow with last_man_standing")
	}
	after := *o.AfterWindow
	v := dial(t, cl.Node(1))
	deadline := time.Now().Add(3 * window)
	for {
		i, err := v.Info(ctxT(t, 10*time.Second), 0)
		if err == nil && sameOutcome(after, i) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the window:\npredicted %v\nreal      %v (%v)", after, i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
