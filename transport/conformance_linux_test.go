package transport_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/quorumwire"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/transport/transporttest"
)

// The real libqb connection to a real corosync 3.1.7.
func TestConformanceRealDaemon(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	transporttest.Run(t, transporttest.Target{
		Dial: func(ctx context.Context) (transport.Conn, error) {
			return n.Dialer().Dial(ctx, "quorum")
		},
		Request: quorumwire.AppendRequest(nil, quorumwire.ReqGetQuorate, 0),
		Stop:    func(t *testing.T) { n.Stop() },
	})
}

// The fake libqb server, for what a real daemon will not do on demand:
// refuse access, or answer before its first sync.
func TestConformanceFakeServer(t *testing.T) {
	var errno int32
	transporttest.Run(t, transporttest.Target{
		Dial: transport.FakeDial(t, &errno),
		DenyAccess: func(t *testing.T) func() {
			errno = -int32(syscall.EACCES)
			return func() { errno = 0 }
		},
		NotReady: func(t *testing.T) func() {
			errno = -int32(syscall.EAGAIN)
			return func() { errno = 0 }
		},
	})
}
