//go:build linux

// Package streamkit gives the services' stream conformance tests
// (dispatch/streamtest) their daemons: the mock cluster, or a real corosync
// in a network namespace (corotest), each able to restart and to start
// refusing the test's client (access denied).
package streamkit

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/transport"
)

// Backend is one daemon a harness's client talks to.
type Backend interface {
	// Dialer reaches the daemon.
	Dialer() transport.Dialer
	// Restart restarts the daemon and returns once it serves again.
	Restart(t testing.TB)
	// RestartBurst is how many Restarts a conformance case's burst of
	// events should take (streamtest.Fixture.Burst): many on mock, where
	// a restart is instant, a few on a real daemon, where it takes over a
	// second.
	RestartBurst() int
	// Deny makes the daemon refuse the Dialer's connections (CS_ERR_ACCESS)
	// from its next start on.
	Deny(t testing.TB)
	// Cmap sets a cmap key of the daemon as an administrator would (a
	// uint32), to cause cmap events.
	Cmap(t testing.TB, key string, v uint32)
}

// Factory makes a fresh Backend for one test (closed by its cleanup).
type Factory func(t testing.TB) Backend

// Mock returns a one-node mock cluster.
func Mock(t testing.TB) Backend {
	return &mockBackend{c: mock.NewCluster(1)}
}

type mockBackend struct{ c *mock.Cluster }

func (m *mockBackend) Dialer() transport.Dialer { return m.c.Node(1) }
func (m *mockBackend) Restart(testing.TB)       { m.c.Restart(1) }
func (m *mockBackend) RestartBurst() int        { return 20 }
func (m *mockBackend) Deny(testing.TB)          { m.c.Node(1).DenyAccess(true) }
func (m *mockBackend) Cmap(t testing.TB, key string, v uint32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cmap.Dial(ctx, client.WithDialer(m.c.Node(1)))
	if err != nil {
		t.Fatalf("cmap dial: %v", err)
	}
	defer c.Close()
	if err := c.SetUint32(ctx, key, v); err != nil {
		t.Fatalf("cmap set %s: %v", key, err)
	}
}

// Real returns a one-node real cluster (corotest) whose client runs as the
// user nobody, admitted by a uidgid section: Deny removes that section, so
// that the daemon, once restarted, refuses the client with CS_ERR_ACCESS
// (root is always admitted). It skips, loudly, where corotest cannot run.
func Real(t testing.TB) Backend {
	cl := corotest.Start(t, 1, corotest.Options{AllowUsers: []string{"nobody"}})
	n := cl.Node(1)
	return &realBackend{n: n, d: AsUser(n.Dialer(), nobodyUID, nobodyGID)}
}

type realBackend struct {
	n *corotest.Node
	d transport.Dialer
}

func (r *realBackend) Dialer() transport.Dialer { return r.d }

func (r *realBackend) RestartBurst() int { return 3 }

func (r *realBackend) Restart(t testing.TB) {
	t.Helper()
	if err := r.n.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := r.n.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.n.WaitReady(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

func (r *realBackend) Deny(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(r.n.ConfPath())
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), "uidgid {\n\tuid: nobody\n}\n", "", 1)
	if conf == string(b) {
		t.Fatalf("no uidgid section for nobody in %s", r.n.ConfPath())
	}
	if err := os.WriteFile(r.n.ConfPath(), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *realBackend) Cmap(t testing.TB, key string, v uint32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.n.Cmap(ctx, "-s", key, "u32", itoa(v)); err != nil {
		t.Fatalf("corosync-cmapctl -s %s: %v", key, err)
	}
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// DialOptions are the options a stream harness dials its client with: the
// backend's dialer, a fast backoff, and no reconnection unless reconnect.
func DialOptions(d transport.Dialer, reconnect bool) []client.Option {
	opts := []client.Option{client.WithDialer(d),
		client.WithBackoff(corosync.Backoff{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2})}
	if !reconnect {
		opts = append(opts, client.WithoutReconnect())
	}
	return opts
}
