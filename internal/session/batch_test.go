package session

import (
	"context"
	"errors"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/transport"
)

// batchConn is a fakeConn that pipelines (transport.Batcher): it answers
// a batch from the script, and can refuse the request at index tryAgainAt
// once, as the transport does under flow control.
type batchConn struct {
	*fakeConn
	batches    int
	tryAgainAt int
}

func (b *batchConn) RequestBatch(ctx context.Context, reqs, resps [][]byte, _ ...transport.RequestOption) (int, error) {
	b.batches++
	for i := range reqs {
		if i > 0 && i == b.tryAgainAt {
			b.tryAgainAt = -1
			return i, corosync.NewError("fake batch", corosync.ErrTryAgain, nil)
		}
		out, err := b.Request(ctx, reqs[i], resps[i])
		if err != nil {
			return i, err
		}
		resps[i] = out
	}
	return len(reqs), nil
}

func batchCalls(ids ...int32) []BatchCall {
	var cs []BatchCall
	for _, id := range ids {
		cs = append(cs, BatchCall{Op: "test call", Req: reqMsg(id), Want: id, Resp: make([]byte, 0, 64)})
	}
	return cs
}

func testConn(t transport.Conn) *Conn {
	return &Conn{t: t, reqs: testReqs, ver: corosync.Version3_1_6, backoff: corosync.Backoff{Initial: 1, Max: 1}}
}

// Batch gives each call what Call would have given it, pipelined or not.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	for _, pipelined := range []bool{true, false} {
		wrap := func(f *fakeConn) (transport.Conn, *batchConn) {
			if pipelined {
				b := &batchConn{fakeConn: f, tryAgainAt: -1}
				return b, b
			}
			return f, nil
		}
		t.Run("answers and TRY_AGAIN", func(t *testing.T) {
			// Pipelined, call 0 is made again after the others; one by
			// one, at once.
			f := newFakeConn(respMsg(2, corosync.ErrTryAgain), respMsg(3, corosync.ErrNotExist), respMsg(0, corosync.ErrInvalidParam), respMsg(2, corosync.OK))
			if !pipelined {
				f = newFakeConn(respMsg(2, corosync.ErrTryAgain), respMsg(2, corosync.OK), respMsg(3, corosync.ErrNotExist), respMsg(0, corosync.ErrInvalidParam))
			}
			tc, _ := wrap(f)
			cs := batchCalls(2, 3, 4)
			testConn(tc).Batch(ctx, cs)
			if cs[0].Err != nil || len(cs[0].Out) != 24 {
				t.Fatalf("call 0 (TRY_AGAIN, then made again): %v", cs[0].Err)
			}
			if !errors.Is(cs[1].Err, corosync.ErrNotExist) || !errors.Is(cs[2].Err, corosync.ErrInvalidParam) {
				t.Fatalf("calls 1, 2: %v, %v", cs[1].Err, cs[2].Err)
			}
			if f.reqs != 4 {
				t.Fatalf("%d requests, want 4", f.reqs)
			}
		})
		t.Run("wrong id drops the connection", func(t *testing.T) {
			f := newFakeConn(respMsg(2, corosync.OK), respMsg(9, corosync.OK), respMsg(4, corosync.OK))
			tc, _ := wrap(f)
			cs := batchCalls(2, 3, 4)
			testConn(tc).Batch(ctx, cs)
			if cs[0].Err != nil || !errors.Is(cs[1].Err, corosync.ErrMessageError) {
				t.Fatalf("calls 0, 1: %v, %v", cs[0].Err, cs[1].Err)
			}
			if pipelined && !errors.Is(cs[2].Err, corosync.ErrMessageError) {
				t.Fatalf("call 2 after the lost pairing: %v", cs[2].Err)
			}
			select {
			case <-f.closed:
			default:
				t.Fatal("the connection was not dropped")
			}
		})
		t.Run("lost mid-batch", func(t *testing.T) {
			f := newFakeConn(respMsg(2, corosync.OK))
			tc, _ := wrap(f)
			cs := batchCalls(2, 3, 4)
			testConn(tc).Batch(ctx, cs)
			if cs[0].Err != nil {
				t.Fatal(cs[0].Err)
			}
			for _, c := range cs[1:] {
				if !errors.Is(c.Err, transport.ErrDisconnected) || !errors.Is(c.Err, corosync.ErrLibrary) {
					t.Fatalf("after the loss: %v", c.Err)
				}
			}
		})
		t.Run("request id the daemon lacks", func(t *testing.T) {
			f := newFakeConn()
			tc, _ := wrap(f)
			cs := batchCalls(2, 7)
			testConn(tc).Batch(ctx, cs)
			if !errors.Is(cs[0].Err, corosync.ErrNotSupported) || !errors.Is(cs[1].Err, corosync.ErrNotSupported) || f.reqs != 0 {
				t.Fatalf("%v, %v, %d sent", cs[0].Err, cs[1].Err, f.reqs)
			}
		})
		t.Run("ctx already ended", func(t *testing.T) {
			f := newFakeConn(respMsg(2, corosync.ErrTryAgain), respMsg(3, corosync.OK))
			tc, _ := wrap(f)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			cs := batchCalls(2, 3)
			testConn(tc).Batch(cctx, cs)
			if !errors.Is(cs[0].Err, corosync.ErrTryAgain) || !errors.Is(cs[0].Err, context.Canceled) {
				t.Fatalf("TRY_AGAIN until ctx ended: %v", cs[0].Err)
			}
		})
	}
	t.Run("flow control mid-batch", func(t *testing.T) {
		f := newFakeConn(respMsg(2, corosync.OK), respMsg(3, corosync.OK), respMsg(4, corosync.OK))
		b := &batchConn{fakeConn: f, tryAgainAt: 1}
		cs := batchCalls(2, 3, 4)
		testConn(b).Batch(ctx, cs)
		for i, c := range cs {
			if c.Err != nil || len(c.Out) != 24 {
				t.Fatalf("call %d: %v", i, c.Err)
			}
		}
		if b.batches != 2 || f.reqs != 3 {
			t.Fatalf("%d batches, %d requests; want the rest sent in a second batch", b.batches, f.reqs)
		}
	})
}
