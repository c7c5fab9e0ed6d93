package status_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/status"
	"github.com/corosync-go/corosync/transport"
)

// One call reads what corosync-quorumtool -s and corosync-cfgtool -s show.
// Here against a mock cluster; without WithDialer it reads the local daemon.
func Example() {
	cluster := mock.NewCluster(3)
	cluster.Kill(3)
	ctx := context.Background()

	s, err := status.Get(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("cluster %s, node %d, quorate %v, ring %s\n", s.ClusterName, s.LocalNodeID, s.Quorate, s.RingIDText())
	fmt.Printf("votes: expected %d, total %d, quorum %d, flags %v\n",
		s.Votes.ExpectedVotes, s.Votes.TotalVotes, s.Votes.Quorum, s.Votes.FlagNames())
	for _, n := range s.Nodes {
		fmt.Printf("node %d %s %v member=%v votes=%d %s link0 connected=%v\n",
			n.ID, n.Name, n.Addrs, n.Member, n.Votes, n.State, n.Links[0].Connected)
	}
	// Output:
	// cluster mock, node 1, quorate true, ring 1.8
	// votes: expected 3, total 2, quorum 2, flags [Quorate]
	// node 1 node1 [192.0.2.1] member=true votes=1 member link0 connected=true
	// node 2 node2 [192.0.2.2] member=true votes=1 member link0 connected=true
	// node 3 node3 [192.0.2.3] member=false votes=1 dead link0 connected=false
}

// A Client keeps its connections for repeated reads, and Subscribe streams
// a snapshot whenever the state changes.
func ExampleClient_Subscribe() {
	cluster := mock.NewCluster(3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := status.Dial(ctx, client.WithDialer(cluster.Node(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	ev, _ := sub.Next(ctx) // the current state
	fmt.Println("quorate", ev.Quorate, "members", ev.Members)

	cluster.Partition([]uint32{1}, []uint32{2, 3})
	for ev, err := range sub.All(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if len(ev.Members) == 1 {
			fmt.Println("quorate", ev.Quorate, "members", ev.Members)
			break
		}
	}
	// Output:
	// quorate true members [1 2 3]
	// quorate false members [1]
}

// denyCfg is a dialer whose daemon refuses this user the cfg service.
type denyCfg struct{ transport.Dialer }

func (d denyCfg) Dial(ctx context.Context, service string) (transport.Conn, error) {
	if service == "cfg" {
		return nil, corosync.NewError("dial cfg", corosync.ErrAccess, errors.New("denied"))
	}
	return d.Dialer.Dial(ctx, service)
}

// A service that refuses gives a partial snapshot: every other part is
// there, and the error says which part is missing and why.
func ExamplePartialError() {
	cluster := mock.NewCluster(2)
	s, err := status.Get(context.Background(), client.WithDialer(denyCfg{cluster.Node(1)}))
	var partial *status.PartialError
	if errors.As(err, &partial) {
		for _, m := range partial.Missing {
			fmt.Println("missing", m.Part, "access denied:", errors.Is(m, corosync.ErrAccess))
		}
	}
	fmt.Println("quorate", s.Quorate, "members", s.Members, "links known", s.Links != status.LinksNone)
	// Output:
	// missing cfg access denied: true
	// quorate true members [1 2] links known false
}
