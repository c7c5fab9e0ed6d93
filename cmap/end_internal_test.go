package cmap

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
)

var fastBackoff = client.WithBackoff(corosync.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2})

// End fails every track with the terminal error after the events already
// handed over, and later Track calls fail with it.
func TestEndFailsTracks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := mock.NewCluster(1)
	c, err := Dial(ctx, client.WithDialer(cl.Node(1)), fastBackoff)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr, err := c.Track(ctx, "test.", TrackChanges|TrackPrefix, dispatch.Queue(8))
	if err != nil {
		t.Fatal(err)
	}
	tr.push(Event{Kind: corosync.EventModify, Key: "test.a"}) // handed over by the pump before the end
	end := corosync.NewError("dial cmap", corosync.ErrAccess, errors.New("access denied by the daemon"))
	(&service{c: c}).End(end)
	ev, err := tr.Next(ctx)
	if err != nil || ev.Kind != corosync.EventModify {
		t.Fatalf("queued event: %v %v", ev, err)
	}
	if _, err := tr.Next(ctx); !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("after End: %v, want the terminal error", err)
	}
	if _, err := c.Track(ctx, "other.", TrackChanges|TrackPrefix); !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("Track after End: %v", err)
	}
}

// A reconnect that fails for good (the daemon now refuses this user) ends
// the tracks with that error instead of leaving them silent.
func TestTrackEndsWhenReconnectFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := mock.NewCluster(1)
	c, err := Dial(ctx, client.WithDialer(cl.Node(1)), fastBackoff)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr, err := c.Track(ctx, "test.", TrackChanges|TrackPrefix, dispatch.Queue(8))
	if err != nil {
		t.Fatal(err)
	}
	cl.Node(1).DenyAccess(true)
	cl.Restart(1)
	ev, err := tr.Next(ctx)
	if err != nil || ev.Kind != corosync.EventDisconnected {
		t.Fatalf("first: %v %v", ev, err)
	}
	if _, err := tr.Next(ctx); !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("after a refused reconnect: %v, want CS_ERR_ACCESS", err)
	}
}
