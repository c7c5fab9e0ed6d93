// Command election elects one leader among the processes that run it on a
// corosync cluster: the member of cpg group "election" with the lowest
// (node id, pid), but only while its node is quorate.
//
// A cpg view is not quorum. When the network splits, each side receives a
// configuration change that removes the other side, and carries on as a
// complete, smaller group: "the lowest member of my view" alone would
// elect one leader per partition, and a node cut off alone would lead
// itself. So the candidate leads only while package quorum says its node
// is quorate, and steps down at once on a quorum loss or when it cannot
// reach corosync. A minority partition has a candidate, but no leader.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"slices"
	"syscall"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cpg"
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
	q, err := quorum.Dial(ctx, client.WithWaitForDaemon())
	if err != nil {
		return err
	}
	defer q.Close()
	qsub, err := q.Subscribe(ctx) // the first event is the current state
	if err != nil {
		return err
	}
	defer qsub.Close()

	c, err := cpg.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// WithRejoin: after a corosync restart the group is joined again (the
	// daemon forgot the membership) instead of the stream ending.
	g, err := c.Join(ctx, "election", cpg.WithRejoin())
	if err != nil {
		return err
	}
	defer g.Close()

	var (
		quorate bool
		members []cpg.Member
		leading bool
		self    = g.Self()
		decide  = func() {
			lowest := len(members) > 0 && slices.MinFunc(members, less) == self
			switch now := quorate && lowest; {
			case now && !leading:
				log.Printf("leader (%v of %d members, quorate)", self, len(members))
			case !now && leading:
				log.Printf("not the leader any more (quorate %v, lowest %v)", quorate, lowest)
			}
			leading = quorate && lowest
		}
	)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-qsub.C():
			if !ok {
				return qsub.Err()
			}
			quorate = ev.Quorate // false on EventDisconnected: fail safe
			decide()
		case ev, ok := <-g.C():
			if !ok {
				return g.Err()
			}
			switch ev.Kind {
			case corosync.EventConfchg:
				members = ev.Members
			case corosync.EventDisconnected:
				members = nil // no view until the rejoin's confchg
			}
			decide()
		}
	}
}

// less orders members by node id, then pid: every member computes the same
// order from the same view.
func less(a, b cpg.Member) int {
	if a.NodeID != b.NodeID {
		return int(int64(a.NodeID) - int64(b.NodeID))
	}
	return int(int64(a.PID) - int64(b.PID))
}
