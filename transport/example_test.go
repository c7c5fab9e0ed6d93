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

// Pipelined requests: a Conn that implements Batcher (the libqb
// connection of this package) sends them all before reading the first
// answer; any other Conn (here a mock's) answers them one by one. Each
// response buffer's capacity bounds its answer.
func ExampleBatcher() {
	ctx := context.Background()
	var d transport.Dialer = mock.NewCluster(3).Node(1)
	conn, err := d.Dial(ctx, "quorum")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	reqs := make([][]byte, 3)
	resps := make([][]byte, 3)
	for i := range reqs {
		reqs[i] = make([]byte, 16)
		binary.LittleEndian.PutUint32(reqs[i][8:], 16) // getquorate, 16 bytes
		resps[i] = make([]byte, 0, 64)
	}
	if b, ok := conn.(transport.Batcher); ok {
		if _, err := b.RequestBatch(ctx, reqs, resps); err != nil {
			fmt.Println(err)
			return
		}
	} else {
		for i := range reqs {
			if resps[i], err = conn.Request(ctx, reqs[i], resps[i]); err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	for _, r := range resps {
		fmt.Println("quorate", binary.LittleEndian.Uint32(r[24:]))
	}
	// Output:
	// quorate 1
	// quorate 1
	// quorate 1
}
