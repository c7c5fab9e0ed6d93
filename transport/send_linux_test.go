package transport

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
)

// Send writes one chunk and one notification byte, and waits for nothing.
func TestSendOneWay(t *testing.T) {
	c, paths, srv, err := connectFakeServer(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req := serverRing(t, "request", paths[0])
	msg := make([]byte, 40)
	msg[8] = 40
	for i := 0; i < 3; i++ {
		if err := c.Send(context.Background(), msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		if !req.sem.tryWait() {
			t.Fatalf("message %d not posted", i)
		}
		got, err := req.read(nil, 1<<20)
		if err != nil || len(got) != 40 {
			t.Fatalf("message %d: %d bytes, %v", i, len(got), err)
		}
	}
	var b [8]byte
	if n, _ := unix.Read(srv, b[:]); n != 3 {
		t.Fatalf("%d notification bytes for 3 messages", n)
	}
	// Flow control: nothing is written, the caller hears TRY_AGAIN.
	atomic.StoreUint32(req.u32(hdrUserData), 1)
	if err := c.Send(context.Background(), msg); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("send under flow control: %v", err)
	}
	if req.sem.value() != 0 {
		t.Fatal("a message was posted under flow control")
	}
	// Level 2 (corosync: totem's queue is critical): one-way messages and
	// throttled requests are refused, as libcpg's mcasts are.
	atomic.StoreUint32(req.u32(hdrUserData), 2)
	if err := c.Send(context.Background(), msg); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("send at flow-control level 2: %v", err)
	}
	if _, err := c.Request(context.Background(), msg, nil, ThrottledAtLevel2()); !errors.Is(err, corosync.ErrTryAgain) {
		t.Fatalf("throttled request at level 2: %v", err)
	}
	if req.sem.value() != 0 {
		t.Fatal("a message was posted at level 2")
	}
	// A plain request goes through at level 2, as libqb lets it.
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	c.Request(short, msg, nil)
	cancelShort()
	if !req.sem.tryWait() {
		t.Fatal("a plain request was refused at level 2")
	}
	req.read(nil, 1<<20)
	resp := serverRing(t, "response", paths[1])
	resp.write(make([]byte, 24)) // the abandoned request's answer, for the drainer
	atomic.StoreUint32(req.u32(hdrUserData), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Send(ctx, msg); !errors.Is(err, corosync.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("send with a cancelled ctx: %v", err)
	}
	c.Close()
	if err := c.Send(context.Background(), msg); !errors.Is(err, corosync.ErrBadHandle) || !errors.Is(err, ErrClosed) {
		t.Fatalf("send after Close: %v", err)
	}
}

// An event chunk larger than the negotiated maximum but inside the ring is
// delivered, not treated as corruption: corosync 3.1.7 writes cpg
// deliveries up to the ring's size.
func TestOversizedEventChunkDelivered(t *testing.T) {
	c, paths, srv, err := connectFakeServer(t, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev := serverRing(t, "event", paths[2])
	big := make([]byte, c.maxMsg+1000) // 12328 + 1000 < 16 KiB ring
	big[8], big[9] = byte(len(big)), byte(len(big)>>8)
	if err := ev.write(big); err != nil {
		t.Fatal(err)
	}
	unix.Write(srv, []byte{1})
	got, err := c.ReadEvent(context.Background())
	if err != nil || len(got) != len(big) {
		t.Fatalf("oversized event: %d bytes, %v", len(got), err)
	}
}
