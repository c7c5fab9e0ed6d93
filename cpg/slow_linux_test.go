package cpg_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
)

// slowReader: a member that reads nothing while n messages of size bytes
// (several times the event ring) arrive must cost the daemon nothing: its
// connection never has an event queued in the daemon (corosync's stats map:
// queued, queueing, send_retries), the daemon logs no IPC queueing ("Q
// empty"), the other member on the same node gets every message as it is
// sent, and the slow member later reads all n, in order. The sender is
// paced well below what one reader takes, so that the daemon queueing
// could only come from the slow member. A quorum client on the same node
// measures the daemon's answer time before, during and after the flood
// (logged, not judged: timing is for benchmarks).
func slowReader(t *testing.T, cl *corotest.Cluster, n, size int, pace time.Duration) {
	ctx := ctxT(t, 120*time.Second)
	n1, n2 := cl.Node(1), cl.Node(2)
	logStart := len(n1.Log())
	group := fmt.Sprintf("slow-%d", time.Now().UnixNano()%100000)
	c1, c1b, c2 := dialT(t, n1.Dialer()), dialT(t, n1.Dialer()), dialT(t, n2.Dialer())
	slow, err := c1.Join(ctx, group) // the default delivery
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	other, err := c1b.Join(ctx, group, cpg.WithPID(uint32(os.Getpid())+7))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s, err := c2.Join(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitMembers(t, ctx, s, 3)
	waitMembers(t, ctx, other, 3)

	q, err := quorum.Dial(ctx, client.WithDialer(n1.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	probe := func(d time.Duration) []time.Duration {
		var lat []time.Duration
		for end := time.Now().Add(d); time.Now().Before(end); {
			t0 := time.Now()
			if _, err := q.Quorate(ctx); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(500 * time.Microsecond)
		}
		return lat
	}
	before := probe(time.Second)

	sent := make(chan error, 1)
	go func() {
		msg := make([]byte, size)
		next := time.Now()
		for i := range n {
			binary.BigEndian.PutUint32(msg, uint32(i))
			if err := s.Send(ctx, msg, cpg.Agreed); err != nil {
				sent <- fmt.Errorf("send %d: %w", i, err)
				return
			}
			next = next.Add(pace)
			time.Sleep(time.Until(next))
		}
		sent <- nil
	}()
	var during []time.Duration
	probed := make(chan struct{})
	go func() { during = probe(time.Duration(n) * pace); close(probed) }()
	for got := 0; got < n; {
		ev, err := other.Next(ctx)
		if err != nil {
			t.Fatalf("the other member on node 1 after %d messages: %v", got, err)
		}
		if ev.Kind == corosync.EventMessage {
			got++
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	<-probed
	// Every message has reached node 1: the slow member's pump holds them.
	for slow.Backlog() < n && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cpu0, t0 := cpuTicks(n1.Pid()), time.Now()
	held := probe(time.Second)
	cpu := float64(cpuTicks(n1.Pid())-cpu0) / time.Since(t0).Seconds() // ticks/s = % of a CPU at 100 Hz
	t.Logf("backlog %d events held by the slow member; daemon CPU while held: %.0f%% of a core", slow.Backlog(), cpu)
	t.Logf("quorate answer time on node 1, p50/p99: before %v/%v, during the flood %v/%v, backlog held %v/%v",
		pct(before, 50), pct(before, 99), pct(during, 50), pct(during, 99), pct(held, 50), pct(held, 99))

	// The daemon holds nothing for any cpg connection of this process (two
	// members on node 1 took n messages each).
	for conn, st := range cpgConnStats(t, ctx, n1, 2*uint64(n)) {
		if st["queued"] != 0 || st["queueing"] != 0 || st["send_retries"] != 0 {
			t.Errorf("node 1 queued events for cpg connection %s: %v", conn, st)
		}
	}
	for _, l := range strings.Split(n1.Log()[logStart:], "\n") {
		if strings.Contains(l, "Q empty") || strings.Contains(l, "event_send") {
			t.Errorf("node 1 logged IPC queueing: %s", l)
		}
	}
	for got := 0; got < n; {
		ev, err := slow.Next(ctx)
		if err != nil {
			t.Fatalf("slow member after %d messages: %v", got, err)
		}
		if ev.Kind == corosync.EventMessage {
			if i := binary.BigEndian.Uint32(ev.Data); int(i) != got {
				t.Fatalf("slow member: message %d at position %d", i, got)
			}
			got++
		}
	}
	if b := slow.Backlog(); b != 0 {
		t.Errorf("backlog %d after reading everything", b)
	}
}

// cpgConnStats returns corosync's IPC statistics of this process's cpg
// connections (cpg is the daemon's IPC service 2) to node, by connection:
// queued, queueing and send_retries.
//
// corosync 3.x computes them when read, in its stats map
// (stats.ipcs.service2.<pid>.<conn>.*). corosync 2.x has no stats map (the
// library refuses it with ErrNotSupported): it copies them every 1.5 s into
// the icmap, under runtime.connections.<procname>:<pid>:<conn>.* with
// service_id and client_pid keys, the queue's length as queue_size (its
// "queueing" is queue_size > 0, so the key is not there). There they are
// read once a copy shows at least dispatched events sent to this process's
// cpg connections in all, so that they are not older than the flood.
func cpgConnStats(t *testing.T, ctx context.Context, node *corotest.Node, dispatched uint64) map[string]map[string]uint64 {
	t.Helper()
	if node.Daemon().Major < 3 {
		return cpgConnStats2(t, ctx, node, dispatched)
	}
	st, err := cmap.Dial(ctx, client.WithDialer(node.Dialer()), cmap.WithMap(cmap.MapStats))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prefix := fmt.Sprintf("stats.ipcs.service2.%d.", os.Getpid())
	res := map[string]map[string]uint64{}
	for e, err := range st.IterValues(ctx, prefix) {
		if err != nil {
			t.Fatal(err)
		}
		conn, field, ok := strings.Cut(strings.TrimPrefix(e.Key, prefix), ".")
		if !ok {
			continue
		}
		if v, ok := number(e.Value); ok {
			if res[conn] == nil {
				res[conn] = map[string]uint64{}
			}
			res[conn][field] = v
		}
	}
	if len(res) == 0 {
		t.Fatalf("no cpg connection of pid %d in node %d's stats map", os.Getpid(), node.ID)
	}
	return res
}

// cpgConnStats2 is cpgConnStats for corosync 2.x.
func cpgConnStats2(t *testing.T, ctx context.Context, node *corotest.Node, dispatched uint64) map[string]map[string]uint64 {
	t.Helper()
	if _, err := cmap.Dial(ctx, client.WithDialer(node.Dialer()), cmap.WithMap(cmap.MapStats)); !errors.Is(err, corosync.ErrNotSupported) {
		t.Errorf("the stats map on %s: %v, want ErrNotSupported", node.Daemon(), err)
	}
	// The client's own iterators never enter runtime.connections. on 2.x
	// (iterating it while connections come and go crashes the daemon;
	// cmap.Iter documents it): the daemon's own tool lists it, with
	// nothing else iterating.
	const prefix = "runtime.connections."
	for {
		out, err := node.Exec(ctx, "corosync-cmapctl", prefix)
		if err != nil {
			t.Fatalf("corosync-cmapctl %s: %v: %s", prefix, err, out)
		}
		all := map[string]map[string]uint64{}
		for _, line := range strings.Split(string(out), "\n") {
			// "runtime.connections.cpg.test:4242:0x5634.dispatched (u64) = 12"
			key, rest, ok := strings.Cut(line, " (")
			if !ok {
				continue
			}
			_, val, ok := strings.Cut(rest, " = ")
			v, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
			if !ok || err != nil {
				continue
			}
			// The process name may hold dots ("cpg.test"); the field never.
			i := strings.LastIndexByte(key, '.')
			conn, field := strings.TrimPrefix(key[:i], prefix), key[i+1:]
			if strings.Contains(conn, ":") {
				if all[conn] == nil {
					all[conn] = map[string]uint64{}
				}
				all[conn][field] = v
			}
		}
		res := map[string]map[string]uint64{}
		var sum uint64
		for conn, st := range all {
			if st["client_pid"] != uint64(os.Getpid()) || st["service_id"] != 2 {
				continue
			}
			sum += st["dispatched"]
			res[conn] = map[string]uint64{"queued": st["queue_size"], "send_retries": st["send_retries"]}
		}
		if len(res) == 0 {
			t.Fatalf("no cpg connection of pid %d under %s in node %d's icmap", os.Getpid(), prefix, node.ID)
		}
		if sum >= dispatched {
			return res
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node %d's icmap never showed %d events dispatched to this process's cpg connections: %v", node.ID, dispatched, all)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// number returns an integer value of the stats.
func number(v cmap.Value) (uint64, bool) {
	switch v.Type() {
	case cmap.TypeUint64:
		x, _ := v.Uint64()
		return x, true
	case cmap.TypeUint32:
		x, _ := v.Uint32()
		return uint64(x), true
	case cmap.TypeInt32:
		x, _ := v.Int32()
		return uint64(x), true
	}
	return 0, false // procname, a string
}

// cpuTicks returns the user+system clock ticks of pid.
func cpuTicks(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return u + k
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)*p/100, len(d)-1)]
}
