package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/status"
	"github.com/corosync-go/corosync/votequorum"
)

// Every service re-exports the same two causes, so a caller can match
// them with errors.Is whichever service failed, with any service's name.
var (
	notConnected = map[string]error{
		"client": client.ErrNotConnected, "quorum": quorum.ErrNotConnected,
		"votequorum": votequorum.ErrNotConnected, "cfg": cfg.ErrNotConnected,
		"cmap": cmap.ErrNotConnected, "cpg": cpg.ErrNotConnected,
		"status": status.ErrNotConnected,
	}
	closed = map[string]error{
		"dispatch": dispatch.ErrClosed, "quorum": quorum.ErrClosed,
		"votequorum": votequorum.ErrClosed, "cfg": cfg.ErrClosed,
		"cmap": cmap.ErrClosed, "cpg": cpg.ErrClosed,
	}
)

// TestErrorsSameInEveryService makes a real request of each service while
// its daemon is down and after Close, and matches the error against every
// service's ErrNotConnected and ErrClosed.
func TestErrorsSameInEveryService(t *testing.T) {
	calls := map[string]func(ctx context.Context, d *mock.Node) (call func(context.Context) error, closeFn func() error, err error){
		"quorum": func(ctx context.Context, d *mock.Node) (func(context.Context) error, func() error, error) {
			c, err := quorum.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { _, err := c.Quorate(ctx); return err }, c.Close, nil
		},
		"votequorum": func(ctx context.Context, d *mock.Node) (func(context.Context) error, func() error, error) {
			c, err := votequorum.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { _, err := c.Info(ctx, 0); return err }, c.Close, nil
		},
		"cfg": func(ctx context.Context, d *mock.Node) (func(context.Context) error, func() error, error) {
			c, err := cfg.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { _, err := c.LocalNodeID(ctx); return err }, c.Close, nil
		},
		"cmap": func(ctx context.Context, d *mock.Node) (func(context.Context) error, func() error, error) {
			c, err := cmap.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { _, err := c.Get(ctx, "totem.cluster_name"); return err }, c.Close, nil
		},
		"cpg": func(ctx context.Context, d *mock.Node) (func(context.Context) error, func() error, error) {
			c, err := cpg.Dial(ctx, client.WithDialer(d))
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context) error { _, err := c.LocalNodeID(ctx); return err }, c.Close, nil
		},
	}
	for svc, dial := range calls {
		t.Run(svc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cl := mock.NewCluster(1)
			call, closeFn, err := dial(ctx, cl.Node(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := call(ctx); err != nil {
				t.Fatalf("call while connected: %v", err)
			}
			cl.Stop(1)
			// The client notices the loss on its own; until then a call
			// may fail otherwise (the connection breaking under it).
			for {
				err = call(ctx)
				if errors.Is(err, client.ErrNotConnected) || ctx.Err() != nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			for name, want := range notConnected {
				if !errors.Is(err, want) {
					t.Errorf("%s call while reconnecting: %v is not %s.ErrNotConnected", svc, err, name)
				}
			}
			if !errors.Is(err, corosync.ErrLibrary) {
				t.Errorf("%s call while reconnecting: %v does not carry corosync.ErrLibrary", svc, err)
			}
			if err := closeFn(); err != nil {
				t.Fatal(err)
			}
			err = call(ctx)
			for name, want := range closed {
				if !errors.Is(err, want) {
					t.Errorf("%s call after Close: %v is not %s.ErrClosed", svc, err, name)
				}
			}
			if !errors.Is(err, corosync.ErrBadHandle) || errors.Is(err, client.ErrNotConnected) {
				t.Errorf("%s call after Close: %v", svc, err)
			}
		})
	}
}
