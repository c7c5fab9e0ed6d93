package stress

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

// cycles is the measure, 300 of each (corotest.Cycles).
var cycles = corotest.Cycles(300)

// service is one service's Dial, made ready to receive events, as a test
// cycle uses it.
type service struct {
	name string
	dial func(ctx context.Context, d transport.Dialer) (io.Closer, error)
}

// clients are the ways a program holds each service, every one with events
// flowing to it where the service has any.
var clients = []service{
	{"quorum", func(ctx context.Context, d transport.Dialer) (io.Closer, error) {
		c, err := quorum.Dial(ctx, client.WithDialer(d))
		if err != nil {
			return nil, err
		}
		if _, err := c.Subscribe(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}},
	{"votequorum", func(ctx context.Context, d transport.Dialer) (io.Closer, error) {
		c, err := votequorum.Dial(ctx, client.WithDialer(d))
		if err != nil {
			return nil, err
		}
		return c, nil
	}},
	{"cfg", func(ctx context.Context, d transport.Dialer) (io.Closer, error) {
		c, err := cfg.Dial(ctx, client.WithDialer(d))
		if err != nil {
			return nil, err
		}
		_, err = c.LocalNodeID(ctx)
		return c, errors.Join(err, closeIf(err, c))
	}},
	{"cfg tracking", func(ctx context.Context, d transport.Dialer) (io.Closer, error) {
		c, err := cfg.Dial(ctx, client.WithDialer(d), cfg.WithShutdownTracking())
		if errors.Is(err, corosync.ErrNotSupported) {
			return nil, nil // 2.x and 3.0 have no shutdown tracking
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}},
	{"cmap tracking", func(ctx context.Context, d transport.Dialer) (io.Closer, error) {
		c, err := cmap.Dial(ctx, client.WithDialer(d))
		if err != nil {
			return nil, err
		}
		if _, err := c.Track(ctx, churnKey, cmap.TrackModify); err != nil {
			c.Close()
			return nil, err
		}
		if _, err := c.Track(ctx, "test.", cmap.TrackModify|cmap.TrackPrefix, dispatch.Queue(4)); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}},
	{"cpg", func(ctx context.Context, d transport.Dialer) (io.Closer, error) {
		c, err := cpg.Dial(ctx, client.WithDialer(d))
		if err != nil {
			return nil, err
		}
		return c, nil
	}},
}

func closeIf(err error, c io.Closer) error {
	if err != nil {
		c.Close()
	}
	return nil
}

// churnKey is the cmap key the churn changes all the time.
const churnKey = "test.goodbye.churn"

// churn makes the daemon send events to every tracking client while the
// cycles run: a cmap key changes continuously, and votequorum's expected
// votes go between 3 and 4 (each change is a notification to every
// quorum and votequorum tracker).
func churn(t *testing.T, ctx context.Context, d transport.Dialer) (stop func()) {
	t.Helper()
	m, err := cmap.Dial(ctx, client.WithDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	vq, err := votequorum.Dial(ctx, client.WithDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := uint32(0); cctx.Err() == nil; i++ {
			m.SetUint32(cctx, churnKey, i)
			m.SetUint32(cctx, "test.goodbye.other", i)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := uint32(0); cctx.Err() == nil; i++ {
			vq.SetExpected(cctx, 3+i%2)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		vq.SetExpected(ctx, 3)
		m.Close()
		vq.Close()
	}
}

// noNewErrors fails t for every error line any node's daemon logged since
// before.
func noNewErrors(t *testing.T, cl *corotest.Cluster, before map[uint32]int, what string) {
	t.Helper()
	for _, n := range cl.Nodes {
		lines := n.ErrorLines()
		t.Logf("%s: node %d: error lines %d before, %d after", what, n.ID, before[n.ID], len(lines))
		for _, l := range lines[min(before[n.ID], len(lines)):] {
			t.Errorf("%s: node %d logged: %s", what, n.ID, l)
		}
	}
}

// waitNoShm waits until nothing of ours is left in /dev/shm for pid's
// daemon, but keep (the connections still open).
func waitNoShm(t *testing.T, pid, keep int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(corotest.ShmConnections(pid)) > keep && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := corotest.ShmConnections(pid); len(left) > keep {
		t.Errorf("/dev/shm holds %d connections of ours to daemon %d, want %d: %v", len(left), pid, keep, left)
	}
}

// TestGoodbyes: for every service, 300 Dial+Close cycles and 300 Dials
// abandoned at random points of the handshake (deadlines up to twice the
// median Dial: some end before the connect, some while the daemon sets the
// connection up, some during the release probe or the service's setup), on
// node 1 of a 3-node cluster while events flow to every tracking client
// (churn). The services cycle at once, each on its own goroutine. No
// node's daemon logs an error line, every abandoned Dial fails with
// CS_ERR_TIMEOUT, and nothing of ours is left in /dev/shm.
func TestGoodbyes(t *testing.T) {
	corotest.Exclusive(t) // it loads the machine on purpose
	cl := corotest.Start(t, 3, corotest.Options{})
	n := cl.Node(1)
	d := n.Dialer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := churn(t, ctx, d)
	before := cl.ErrorCounts()
	t.Run("cycles", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				cycle(t, ctx, c, d)
			})
		}
	})
	waitNoShm(t, n.Pid(), 2) // the churn's two clients
	stop()
	waitNoShm(t, n.Pid(), 0)
	noNewErrors(t, cl, before, "every service")
}

func cycle(t *testing.T, ctx context.Context, c service, d transport.Dialer) {
	t0 := time.Now()
	took := make([]time.Duration, 0, cycles)
	for i := 0; i < cycles; i++ {
		s := time.Now()
		x, err := c.dial(ctx, d)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if x == nil {
			t.Skipf("%s: not on this daemon", c.name)
		}
		took = append(took, time.Since(s))
		x.Close()
	}
	closed := time.Since(t0)
	slices.Sort(took)
	median := took[len(took)/2]
	codes := map[string]int{}
	for i := 0; i < cycles; i++ {
		dctx, cancel := context.WithTimeout(ctx, rand.N(2*median))
		x, err := c.dial(dctx, d)
		cancel()
		switch {
		case err == nil:
			x.Close()
		case !errors.Is(err, corosync.ErrTimeout) || corosync.Code(err) != corosync.ErrTimeout:
			t.Errorf("abandoned dial %d: %v (%s), want CS_ERR_TIMEOUT", i, err, corosync.Code(err).Name())
		}
		codes[corosync.Code(err).Name()]++
	}
	t.Logf("%d Dial+Close in %v (median Dial %v); %d Dials with deadlines up to %v: %v",
		cycles, closed.Round(time.Millisecond), median.Round(time.Microsecond), cycles, (2 * median).Round(time.Microsecond), codes)
}
