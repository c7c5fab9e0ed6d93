package cmap

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// TestIterFinalized checks on the daemon that an iteration ended early (a
// break, ctx ending mid-way) or at its end leaves no iterator behind: an
// ITER_NEXT on its handle afterwards is CS_ERR_BAD_HANDLE.
func TestIterFinalized(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Dial(ctx, client.WithDialer(cl.Nodes[0].Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var handles []uint64
	testHookIter = func(h uint64) { handles = append(handles, h) }
	defer func() { testHookIter = nil }()

	gone := func(what string) {
		t.Helper()
		h := handles[len(handles)-1]
		conn, err := c.s.Current()
		if err != nil {
			t.Fatal(err)
		}
		var buf [64]byte
		_, err = c.call(ctx, conn, cmapwire.ReqIterNext, "", cmapwire.AppendIterNext(nil, h), buf[:0])
		if !errors.Is(err, corosync.ErrBadHandle) {
			t.Fatalf("%s: ITER_NEXT on iterator %#x afterwards: %v, want CS_ERR_BAD_HANDLE", what, h, err)
		}
	}
	// break after the first key
	for _, err := range c.Iter(ctx, "totem.") {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	gone("break")
	// ctx ends mid-way
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	n := 0
	var last error
	for _, err := range c.IterValues(cctx, "") {
		if err != nil {
			last = err
			break
		}
		if n++; n == 3 {
			ccancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Fatalf("iteration after cancel ended with %v", last)
	}
	gone("ctx cancelled")
	// to the end
	for _, err := range c.Iter(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
	}
	gone("full iteration")
	// an empty prefix range
	for e, err := range c.Iter(ctx, "no.such.prefix.") {
		t.Fatalf("got %v %v", e, err)
	}
	gone("empty")
	// Many early breaks: still nothing left, and iteration still works.
	for range 2000 {
		for range c.Iter(ctx, "") {
			break
		}
	}
	gone("2000 breaks")
	k := 0
	for _, err := range c.Iter(ctx, "totem.") {
		if err != nil {
			t.Fatal(err)
		}
		k++
	}
	if k < 5 {
		t.Fatalf("totem. has %d keys", k)
	}
	t.Logf("%d iterators, all finalised", len(handles))
}
