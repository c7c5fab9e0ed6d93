package transporttest_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/transport/transporttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// getquorate is quorum's getquorate request: request id 0 in a bare
// 16-byte libqb header whose size field is 16. The daemon answers it and
// queues no event, as Target.Request must.
func getquorate() []byte {
	req := make([]byte, 16)
	binary.LittleEndian.PutUint32(req[8:], 16)
	return req
}

// mockTarget describes a mock cluster's node 1 as a Target: its quorum
// service, stopped for good by Stop, refusing the next Dial after
// DenyAccess.
func mockTarget(cl *mock.Cluster) transporttest.Target {
	n := cl.Node(1)
	return transporttest.Target{
		Dial:    func(ctx context.Context) (transport.Conn, error) { return n.Dial(ctx, "quorum") },
		Request: getquorate(),
		Stop:    func(*testing.T) { cl.Stop(1) },
		DenyAccess: func(*testing.T) func() {
			n.DenyAccess(true)
			return func() { n.DenyAccess(false) }
		},
	}
}

// TestMockConformance is how a test runs the suite: one Target per
// implementation of transport.Conn under test.
func TestMockConformance(t *testing.T) {
	transporttest.Run(t, mockTarget(mock.NewCluster(3)))
}

// A Target describes one implementation of the transport: how to dial it,
// a request it answers, and how to make it fail. A test passes it to Run
// (see TestMockConformance in this file); here its Dial and Request are
// tried by hand.
func ExampleTarget() {
	tg := mockTarget(mock.NewCluster(3))
	ctx := context.Background()
	conn, err := tg.Dial(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	resp, err := conn.Request(ctx, tg.Request, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("response id", binary.LittleEndian.Uint32(resp[0:]), "code", binary.LittleEndian.Uint32(resp[16:]))
	// Output: response id 0 code 1
}
