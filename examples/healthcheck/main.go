// Command healthcheck is a node health check on package status: it exits 0
// when this node is quorate, every configured node is a member and every
// link is connected; 1 when one of them is not (and says which); 2 when
// corosync cannot be read at all. One status.Get reads what
// corosync-quorumtool -s and corosync-cfgtool -s print, with no exec.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/corosync-go/corosync/status"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := status.Get(ctx)
	var partial *status.PartialError
	if err != nil && !errors.As(err, &partial) {
		fmt.Fprintln(os.Stderr, "corosync:", err) // not running, not allowed, ...
		os.Exit(2)
	}
	var problems []string
	for _, m := range s.Missing { // a service that could not be read
		problems = append(problems, m.Error())
	}
	if !s.Quorate {
		problems = append(problems, "not quorate")
	}
	for _, n := range s.Nodes {
		if n.Configured && !n.Member {
			problems = append(problems, fmt.Sprintf("node %d (%s) is not a member", n.ID, n.Name))
		}
		for _, l := range n.Links {
			if n.Member && !n.Local && l.Enabled && !l.Connected {
				problems = append(problems, fmt.Sprintf("link %d to node %d (%s) is down", l.Number, n.ID, n.Name))
			}
		}
	}
	for _, r := range s.Rings { // corosync 2.x: the local rings
		if r.Faulty {
			problems = append(problems, fmt.Sprintf("ring %d is faulty: %s", r.Number, r.Status))
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("UNHEALTHY:", p)
		}
		os.Exit(1)
	}
	fmt.Printf("healthy: cluster %s, node %d, %d members\n", s.ClusterName, s.LocalNodeID, len(s.Members))
	if v := s.Votes; v != nil { // nil without votequorum
		fmt.Printf("votes: %d of %d expected, quorum %d\n", v.TotalVotes, v.ExpectedVotes, v.Quorum)
	}
}
