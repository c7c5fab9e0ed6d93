package transport

import (
	"context"
	"os"
	"testing"
)

// WithSmallRings makes the daemon create rings of about 16 KiB, so that a
// load test wraps them hundreds of times.
func WithSmallRings(cfg Config) Config {
	cfg.maxMsg = authResponseSize
	return cfg
}

func readMaps() (string, error) {
	b, err := os.ReadFile("/proc/self/maps")
	return string(b), err
}

// FakeDial returns a Dial function for the conformance suite: each call
// starts a fake libqb server that answers the connection request with errno
// (0: accepts, with rings of its own) and never answers requests.
func FakeDial(t *testing.T, errno *int32) func(ctx context.Context) (Conn, error) {
	return func(ctx context.Context) (Conn, error) {
		e := *errno
		f := newFake(t, func(f *fakeServer, fd int) {
			if e != 0 {
				writeAll(fd, authResp{errno: e}.bytes())
				return
			}
			writeAll(fd, authResp{connType: 1, maxMsg: 12328, paths: f.rings(4096)}.bytes())
		})
		c, err := Dial(ctx, f.service, Config{AllowNonRootServer: true})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// WaitUnwound waits until every handshake abandoned by its caller has been
// completed (or given up) in the background and its connection closed.
func WaitUnwound() { unwinding.Wait() }

// checkBatchErr runs a batch's checks alone.
func (c *IPCConn) checkBatchErr(reqs, resps [][]byte) (int, int, error) {
	return len(reqs), len(resps), c.checkBatch(c.reqOp, reqs, resps)
}
