package mock_test

import (
	"context"
	"testing"

	"github.com/corosync-go/corosync/internal/wire/quorumwire"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/transport/transporttest"
)

// mock answers every condition with the code the real connection gives.
func TestConformance(t *testing.T) {
	cl := mock.NewCluster(3)
	n := cl.Node(1)
	transporttest.Run(t, transporttest.Target{
		Dial: func(ctx context.Context) (transport.Conn, error) {
			return n.Dial(ctx, "quorum")
		},
		Request: quorumwire.AppendRequest(nil, quorumwire.ReqGetQuorate, 0),
		Stop:    func(t *testing.T) { cl.Stop(1) },
		DenyAccess: func(t *testing.T) func() {
			n.DenyAccess(true)
			return func() { n.DenyAccess(false) }
		},
		NotReady: func(t *testing.T) func() {
			n.SetReady(false)
			return func() { n.SetReady(true) }
		},
	})
}
