package votequorum_test

import (
	"testing"
	"time"

	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// TestQnetd runs a real quorum device: corosync-qnetd in a namespace of its
// own, corosync-qdevice on both nodes of a two-node cluster (device votes
// 1, ffsplit). The client sees the device's votes and flags, and their
// change when qnetd is killed.
func TestQnetd(t *testing.T) {
	cl := corotest.Start(t, 2, corotest.Options{Votequorum: corotest.Votequorum{Device: &corotest.Device{
		Votes: 1, TimeoutMS: 2000, SyncTimeoutMS: 4000,
		Net: &corotest.DeviceNet{Host: corotest.QnetdAddr, Algorithm: "ffsplit"},
	}}})
	q := corotest.StartQnetd(t, cl)
	if err := q.WaitReady(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.Nodes {
		if err := q.StartQdevice(n); err != nil {
			t.Fatal(err)
		}
	}
	c := dial(t, cl.Node(1))
	all := votequorum.FlagQdevice | votequorum.FlagQdeviceAlive | votequorum.FlagQdeviceCastVote
	wait := func(what string, ok func(votequorum.Info) bool) votequorum.Info {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			i, err := c.Info(ctxT(t, 5*time.Second), 0)
			if err == nil && ok(i) {
				return i
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v (%v)\n%s", what, i, err, q.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	i := wait("device casting its vote", func(i votequorum.Info) bool { return i.Flags.Has(all) && i.TotalVotes == 3 })
	t.Logf("with qnetd: %v", i)
	if i.QdeviceVotes != 1 || i.QdeviceName != "Qdevice" || i.Quorum != 2 || !i.Quorate() {
		t.Errorf("with qnetd: %v", i)
	}
	o, err := c.WhatIf(ctxT(t, 5*time.Second), votequorum.Change{RemoveQdevice: true})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := q.Kill(); err != nil {
		t.Fatal(err)
	}
	i = wait("vote withdrawn after qnetd died", func(i votequorum.Info) bool { return !i.Flags.Has(votequorum.FlagQdeviceCastVote) })
	t.Logf("qnetd killed, after %v: %v", time.Since(begin).Round(time.Millisecond), i)
	if i.TotalVotes != 2 || !i.Flags.Has(votequorum.FlagQdevice) || !i.Quorate() {
		t.Errorf("without qnetd: %v", i)
	}
	if !sameOutcome(o, i) {
		t.Errorf("what if the device goes:\npredicted %v\nreal      %v", o, i)
	}
}
