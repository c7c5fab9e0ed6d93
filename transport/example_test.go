package transport_test

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

// A raw request over a Conn: quorum's getquorate (request id 0, a bare
// 16-byte libqb header), answered with a 32-byte response whose header
// carries the code and whose body is the quorate flag. The service
// packages do this for you; a Dialer here is a mock's node, on a real node
// it is transport.NewDialer.
func Example() {
	ctx := context.Background()
	var d transport.Dialer = mock.NewCluster(3).Node(1)
	conn, err := d.Dial(ctx, "quorum")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	req := make([]byte, 16)
	binary.LittleEndian.PutUint32(req[0:], 0)  // id: getquorate
	binary.LittleEndian.PutUint32(req[8:], 16) // size
	resp, err := conn.Request(ctx, req, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	le := binary.LittleEndian
	fmt.Printf("id %d, size %d, code %d, quorate %d\n", le.Uint32(resp[0:]), le.Uint32(resp[8:]), le.Uint32(resp[16:]), le.Uint32(resp[24:]))
	// Output: id 0, size 32, code 1, quorate 1
}
