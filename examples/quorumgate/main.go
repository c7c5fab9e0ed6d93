// Command quorumgate is a quorum-gated worker: it works only while its node
// is quorate, and stops at once when quorum is lost or corosync cannot be
// reached (an EventDisconnected is never quorate: a node that cannot ask
// must assume the worst). It starts again when quorum comes back.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/quorum"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// WithWaitForDaemon: start before corosync does, and wait for it.
	c, err := quorum.Dial(ctx, client.WithWaitForDaemon())
	if err != nil {
		return err // corosync.ErrAccess: this user is not in corosync's uidgid
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx) // latest-wins: a slow worker sees the newest state
	if err != nil {
		return err
	}
	defer sub.Close()

	var stopWork context.CancelFunc // non-nil while working
	defer func() {
		if stopWork != nil {
			stopWork()
		}
	}()
	for ev, err := range sub.All(ctx) {
		if err != nil {
			return err // ctx ended (corosync.ErrTimeout) or the client was closed
		}
		switch {
		case ev.Quorate && stopWork == nil:
			log.Printf("quorate (ring %s, members %v): starting work", ev.Ring, ev.Members)
			workCtx, cancel := context.WithCancel(ctx)
			stopWork = cancel
			go work(workCtx)
		case !ev.Quorate && stopWork != nil:
			log.Printf("%s: stopping work", ev) // quorum lost, or corosync unreachable
			stopWork()
			stopWork = nil
		}
	}
	return nil
}

// work is the job that must never run on two sides of a partition. It
// stops as soon as ctx ends.
func work(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fmt.Println("working", now.Format(time.TimeOnly))
		}
	}
}
