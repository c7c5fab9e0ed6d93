package stress

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// EnvSoak names the variable that turns TestStress into the long soak:
// COROSYNC_GO_SOAK=1 (as the restart soaks of quorum and votequorum).
const EnvSoak = "COROSYNC_GO_SOAK"

// plan is how long and how hard TestStress runs.
type plan struct {
	name   string
	rounds int           // load rounds before the faults
	phase  time.Duration // the load of one round, besides its flood
	flood  int           // bytes multicast per round
	rate   int           // bytes per second the senders keep to, together; 0: no pace
	queue  int           // the slow member's Queue
}

func stressPlan() plan {
	if os.Getenv(EnvSoak) != "" {
		// The run: four 20 s rounds, 400 MiB of cpg per round.
		return plan{name: "soak", rounds: 4, phase: 20 * time.Second, flood: 400 << 20, rate: 24 << 20, queue: 64}
	}
	// Unpaced: the readers lag and the daemons queue for them, and the
	// goodbyes must take in what they hold (transport Settle).
	return plan{name: "short", rounds: 2, phase: 1500 * time.Millisecond, flood: 6 << 20, queue: 16}
}

// Error classes: what an error means to a caller.
const (
	classOK           = "ok"
	classTimeout      = "timeout"       // CS_ERR_TIMEOUT: the caller's ctx ended
	classTryAgain     = "try-again"     // CS_ERR_TRY_AGAIN: ctx ended while the daemon said try again
	classNotConnected = "not-connected" // CS_ERR_LIBRARY: the daemon went away
	classNotExist     = "not-exist"     // CS_ERR_NOT_EXIST
	classQueueFull    = "queue-full"    // CS_ERR_QUEUE_FULL: a Queue reader fell behind
)

// classify returns the class of err, or "" for an error no caller should
// see: another code, the transport's own text, or an error without a code.
func classify(err error) string {
	if err == nil {
		return classOK
	}
	var oe *corosync.OpError
	if !errors.As(err, &oe) || strings.Contains(err.Error(), "connection closed") {
		return ""
	}
	switch corosync.Code(err) {
	case corosync.ErrTimeout:
		return classTimeout
	case corosync.ErrTryAgain:
		return classTryAgain
	case corosync.ErrLibrary:
		return classNotConnected
	case corosync.ErrNotExist:
		return classNotExist
	case corosync.ErrQueueFull:
		return classQueueFull
	}
	return ""
}

// kind is how an operation is called, which decides the classes it may
// end with.
type kind int

const (
	// tiny: a call with a deadline of 0-2ms: it may time out, or end
	// while the daemon says try again.
	tiny kind = iota
	// steady: a call with a 10 s deadline: it succeeds while the daemon
	// runs.
	steady
	// cycled: a Dial, Join, Leave, Track or Close cycle with a 10 s
	// deadline.
	cycled
)

// ledger counts the outcome of every operation by class, and keeps what
// no caller should see.
type ledger struct {
	fault atomic.Int64 // odd while a fault is on (a daemon killed, a node cut off)
	kill  atomic.Int64 // when node 1's daemon was killed (UnixNano), or 0
	gone  atomic.Bool  // node 1's daemon was restarted: the keys the load made are gone

	mu       sync.Mutex
	counts   map[string]map[string]int // op -> class -> count
	inflight map[string]int            // steady calls in flight at the kill, by class
	bad      []string
}

func newLedger() *ledger {
	return &ledger{counts: map[string]map[string]int{}, inflight: map[string]int{}}
}

// begin returns what note needs to judge an operation starting now.
func (l *ledger) begin() (int64, time.Time) { return l.fault.Load(), time.Now() }

// note records the outcome of op, a call of kind k that began at (f0, t0).
func (l *ledger) note(op string, k kind, f0 int64, t0 time.Time, err error) string {
	f1 := l.fault.Load()
	faulty := f0%2 == 1 || f1 != f0
	c := classify(err)
	allowed := map[string]bool{classOK: true}
	switch k {
	case tiny:
		allowed[classTimeout], allowed[classTryAgain] = true, true
	case cycled:
		if faulty {
			// The 10 s ran out while the daemon came back (TRY_AGAIN if it
			// was starting, not ready yet).
			allowed[classTimeout], allowed[classTryAgain] = true, true
		}
	}
	if faulty {
		allowed[classNotConnected] = true
		if l.gone.Load() && k == tiny {
			allowed[classNotExist] = true // a key the load made before the restart
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts[op] == nil {
		l.counts[op] = map[string]int{}
	}
	l.counts[op][c]++
	if k == steady {
		if kt := l.kill.Load(); kt != 0 && t0.UnixNano() < kt && time.Now().UnixNano() > kt {
			l.inflight[c]++
		}
	}
	if !allowed[c] {
		cls := c
		if cls == "" {
			cls = "unclassified"
		}
		l.bad = append(l.bad, fmt.Sprintf("%s (%s, fault %v): %v", op, cls, faulty, err))
	}
	return c
}

// report logs the counts and fails t for every unexpected outcome.
func (l *ledger) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := make([]string, 0, len(l.counts))
	for op := range l.counts {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		t.Logf("  %-28s %v", op, l.counts[op])
	}
	t.Logf("steady calls in flight when node 1's daemon was killed: %v", l.inflight)
	for i, b := range l.bad {
		if i == 20 {
			t.Errorf("... and %d more unexpected errors", len(l.bad)-20)
			break
		}
		t.Errorf("unexpected error: %s", b)
	}
}

// workers runs load goroutines until stopped.
type workers struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func newWorkers() *workers { return &workers{stop: make(chan struct{})} }

func (w *workers) run(f func(i int)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			f(i)
		}
	}()
}

func (w *workers) halt() {
	close(w.stop)
	w.wg.Wait()
}

// iterPrefix is what the load iterates: the whole map, on every release.
// On corosync 2.x the client walks around runtime.connections.<conn>.*,
// whose iteration under connection churn crashes the daemon (cmap.Iter
// documents it): this load, with its churn, is the proof that it does.
func iterPrefix(*cmap.Client) string { return "" }

// stressKeys are the cmap keys the load reads and writes.
var stressKeys = []string{"test.stress.a", "test.stress.b", "test.stress.c"}

// pause keeps a worker from spinning while its client reconnects.
func pause(class string) {
	if class == classNotConnected {
		time.Sleep(2 * time.Millisecond)
	}
}

// setKeys creates stressKeys.
func setKeys(t *testing.T, ctx context.Context, m *cmap.Client) {
	t.Helper()
	for _, k := range stressKeys {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.SetUint32(sctx, k, 0)
		cancel()
		if err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
}

// tinyCtx returns a ctx that ends within 2ms.
func tinyCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(rand.IntN(2000))*time.Microsecond)
}

// clients are the long-lived clients of node 1 that the load shares; they
// reconnect when the daemon comes back.
type clients1 struct {
	m  *cmap.Client
	f  *cfg.Client
	v  *votequorum.Client
	q  *quorum.Client
	cp *cpg.Client
}

func dialClients(t *testing.T, ctx context.Context, d transport.Dialer) *clients1 {
	t.Helper()
	var c clients1
	var err error
	if c.m, err = cmap.Dial(ctx, client.WithDialer(d)); err != nil {
		t.Fatal(err)
	}
	if c.f, err = cfg.Dial(ctx, client.WithDialer(d)); err != nil {
		t.Fatal(err)
	}
	if c.v, err = votequorum.Dial(ctx, client.WithDialer(d)); err != nil {
		t.Fatal(err)
	}
	if c.q, err = quorum.Dial(ctx, client.WithDialer(d)); err != nil {
		t.Fatal(err)
	}
	if c.cp, err = cpg.Dial(ctx, client.WithDialer(d)); err != nil {
		t.Fatal(err)
	}
	return &c
}

func (c *clients1) close() {
	c.m.Close()
	c.f.Close()
	c.v.Close()
	c.q.Close()
	c.cp.Close()
}

// startLoad starts the load on node 1 (d): every kind of call, at
// tiny deadlines and at steady ones, and churn of every kind of client.
func startLoad(ctx context.Context, d transport.Dialer, c *clients1, l *ledger) *workers {
	w := newWorkers()
	// cmap: Get, Set and Inc with tiny deadlines.
	w.run(func(i int) {
		k := stressKeys[(i/3)%len(stressKeys)]
		tctx, cancel := tinyCtx(ctx)
		defer cancel()
		f0, t0 := l.begin()
		var err error
		switch i % 3 {
		case 0:
			err = c.m.SetUint32(tctx, k, uint32(i))
		case 1:
			_, err = c.m.Get(tctx, k)
		case 2:
			err = c.m.Inc(tctx, k)
		}
		pause(l.note("cmap get/set/inc tiny", tiny, f0, t0, err))
	})
	// cmap: iterations abandoned at tiny deadlines.
	w.run(func(i int) {
		tctx, cancel := tinyCtx(ctx)
		defer cancel()
		f0, t0 := l.begin()
		var err error
		for _, e := range c.m.IterValues(tctx, iterPrefix(c.m)) {
			if e != nil {
				err = e
				break
			}
		}
		pause(l.note("cmap iteration tiny", tiny, f0, t0, err))
	})
	// cmap: track churn, and a track that is never read.
	w.run(func(i int) {
		f0, t0 := l.begin()
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tr, err := c.m.Track(tctx, "test.stress.", cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete|cmap.TrackPrefix, dispatch.Queue(8))
		if err == nil {
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			tr.Close()
		}
		pause(l.note("cmap track+close", cycled, f0, t0, err))
	})
	// cfg and votequorum calls with tiny deadlines.
	w.run(func(i int) {
		tctx, cancel := tinyCtx(ctx)
		defer cancel()
		f0, t0 := l.begin()
		var err error
		switch i % 4 {
		case 0:
			_, err = c.f.LocalNodeID(tctx)
		case 1:
			_, err = c.f.NodeAddrs(tctx, 2)
		case 2:
			_, err = c.v.Info(tctx, 1)
		case 3:
			_, err = c.q.Quorate(tctx)
		}
		pause(l.note("cfg/votequorum/quorum tiny", tiny, f0, t0, err))
	})
	// Steady calls on every service, on goroutines of their own: what is in
	// flight at the kill.
	steadyOps := []struct {
		op string
		do func(context.Context) error
	}{
		{"cmap get steady", func(ctx context.Context) error { _, err := c.m.Get(ctx, "totem.cluster_name"); return err }},
		{"cfg local_get steady", func(ctx context.Context) error { _, err := c.f.LocalNodeID(ctx); return err }},
		{"votequorum getinfo steady", func(ctx context.Context) error { _, err := c.v.Info(ctx, 1); return err }},
		{"quorum getquorate steady", func(ctx context.Context) error { _, err := c.q.Quorate(ctx); return err }},
		{"cpg membership steady", func(ctx context.Context) error { _, err := c.cp.Members(ctx, "churn"); return err }},
		{"cpg groups steady", func(ctx context.Context) error { _, err := c.cp.Groups(ctx); return err }},
		{"cmap iteration steady", func(ctx context.Context) error {
			for _, err := range c.m.IterValues(ctx, iterPrefix(c.m)) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, s := range steadyOps {
		w.run(func(i int) {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			f0, t0 := l.begin()
			pause(l.note(s.op, steady, f0, t0, s.do(sctx)))
		})
	}
	// Dial/Close cycles, with and without shutdown tracking, some of them
	// abandoned at tiny deadlines.
	w.run(func(i int) {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		k := cycled
		if i%3 == 2 {
			cancel()
			dctx, cancel = tinyCtx(ctx)
			k = tiny
		}
		defer cancel()
		f0, t0 := l.begin()
		var err error
		var op string
		switch i % 4 {
		case 0:
			op = "cfg dial+close"
			var x *cfg.Client
			if x, err = cfg.Dial(dctx, client.WithDialer(d)); err == nil {
				x.Close()
			}
		case 1:
			op = "cfg tracking dial+close"
			var x *cfg.Client
			x, err = cfg.Dial(dctx, client.WithDialer(d), cfg.WithShutdownTracking())
			if errors.Is(err, corosync.ErrNotSupported) {
				err = nil // no shutdown tracking before 3.1
			} else if err == nil {
				x.Close()
			}
		case 2:
			op = "votequorum dial+close"
			var x *votequorum.Client
			if x, err = votequorum.Dial(dctx, client.WithDialer(d)); err == nil {
				x.Close()
			}
		case 3:
			op = "quorum dial+close"
			var x *quorum.Client
			if x, err = quorum.Dial(dctx, client.WithDialer(d)); err == nil {
				x.Close()
			}
		}
		if k == tiny {
			op += " tiny"
		}
		l.note(op, k, f0, t0, err)
		if err != nil && k == cycled {
			time.Sleep(5 * time.Millisecond)
		}
	})
	// cpg join/leave churn (and join/close), each worker under its own pid.
	for wk := 0; wk < 2; wk++ {
		pid := uint32(2_000_000 + wk)
		w.run(func(i int) {
			jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			f0, t0 := l.begin()
			g, err := c.cp.Join(jctx, "churn", cpg.WithPID(pid))
			l.note("cpg join", cycled, f0, t0, err)
			if err != nil {
				time.Sleep(5 * time.Millisecond)
				return
			}
			if i%2 == 0 {
				f0, t0 = l.begin()
				err = g.Leave(jctx)
				l.note("cpg leave", cycled, f0, t0, err)
				if err == nil {
					var end error
					for end == nil {
						_, end = g.Next(jctx)
					}
					if !errors.Is(end, cpg.ErrLeft) {
						l.note("cpg stream after leave", cycled, f0, t0, fmt.Errorf("ended with %w, want ErrLeft", end))
					}
				}
			}
			g.Close()
		})
	}
	return w
}

// floodMember is one member of the flood group and what it read.
type floodMember struct {
	name  string
	g     *cpg.Group
	keys  []string
	end   error
	sizes int64
}

// read reads m's stream until both senders' end markers (or the stream
// ends), checking every message's checksum; pace slows it down.
func (m *floodMember) read(ctx context.Context, pace time.Duration) {
	dones := 0
	for dones < 2 {
		ev, err := m.g.Next(ctx)
		if err != nil {
			m.end = err
			return
		}
		switch ev.Kind {
		case corosync.EventMessage:
			if string(ev.Data) == "done" {
				dones++
				m.keys = append(m.keys, fmt.Sprintf("done %s", ev.Sender))
				continue
			}
			if len(ev.Data) < 12 || crc32.ChecksumIEEE(ev.Data[12:]) != binary.BigEndian.Uint32(ev.Data[8:]) {
				m.end = fmt.Errorf("%s: message of %d bytes from %s is corrupt", m.name, len(ev.Data), ev.Sender)
				return
			}
			m.sizes += int64(len(ev.Data))
			m.keys = append(m.keys, fmt.Sprintf("m %s %d %d", ev.Sender, binary.BigEndian.Uint64(ev.Data), len(ev.Data)))
		case corosync.EventConfchg:
			m.keys = append(m.keys, fmt.Sprintf("c %v %v %v", ev.Members, ev.Joined, ev.Left))
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
}

// fromFirstMessage returns keys from the first message on: members joined
// at different moments, so they saw different join confchgs before it.
func fromFirstMessage(keys []string) []string {
	for i, k := range keys {
		if strings.HasPrefix(k, "m ") {
			return keys[i:]
		}
	}
	return nil
}

// messageSize picks a mixed size: mostly small, some large enough to be
// fragmented (over cpg.MaxAtomicMessage).
func messageSize() int {
	switch r := rand.IntN(100); {
	case r < 70:
		return 16 + rand.IntN(4096)
	case r < 90:
		return 64 << 10
	case r < 98:
		return 900 << 10
	default:
		return 2<<20 + rand.IntN(1<<20)
	}
}

// flood multicasts p.flood bytes of mixed sizes from a member on node 1 and
// one on node 2 to a group of five readers on three nodes, a slow Queue
// member and one that never reads until the end. Every reader, and the
// never-reader, delivers the same messages (checksums checked) and
// configuration changes in the same order; the slow one either keeps up or
// ends with ErrOverflow.
func flood(t *testing.T, ctx context.Context, cl *corotest.Cluster, cps map[uint32]*cpg.Client, round int, p plan) {
	t.Helper()
	group := fmt.Sprintf("flood%d", round)
	pid := uint32(3_000_000 + 100*round)
	join := func(name string, node uint32, opts ...cpg.JoinOption) *floodMember {
		pid++
		g, err := cps[node].Join(ctx, group, append(opts, cpg.WithPID(pid))...)
		if err != nil {
			t.Fatalf("flood: join %s: %v", name, err)
		}
		return &floodMember{name: name, g: g}
	}
	readers := []*floodMember{join("reader 1a", 1), join("reader 1b", 1), join("reader 2a", 2), join("reader 2b", 2), join("reader 3", 3)}
	never := join("never-reader 2", 2)
	slow := join("slow reader 1", 1, cpg.Queue(p.queue))
	senders := []*floodMember{join("sender 1", 1), join("sender 2", 2)}
	all := append(append(slices.Clone(readers), never, slow), senders...)
	// Everyone sees everyone before the first message.
	for _, m := range all {
		if m == never {
			continue
		}
		for {
			ev, err := m.g.Next(ctx)
			if err != nil {
				t.Fatalf("flood: %s waiting for the group: %v", m.name, err)
			}
			m.keys = append(m.keys, fmt.Sprintf("c %v %v %v", ev.Members, ev.Joined, ev.Left))
			if ev.Kind == corosync.EventConfchg && len(ev.Members) == len(all) {
				break
			}
		}
	}
	var wg sync.WaitGroup
	for _, m := range append(slices.Clone(readers), slow) {
		pace := time.Duration(0)
		if m == slow {
			pace = 20 * time.Millisecond
		}
		wg.Add(1)
		go func() { defer wg.Done(); m.read(ctx, pace) }()
	}
	for _, s := range senders {
		wg.Add(1)
		go func() { // the senders read their own streams too
			defer wg.Done()
			s.read(ctx, 0)
		}()
	}
	t0 := time.Now()
	var sent atomic.Int64
	var swg sync.WaitGroup
	for _, s := range senders {
		swg.Add(1)
		go func() {
			defer swg.Done()
			fill := rand.NewChaCha8([32]byte{byte(round), byte(len(s.name))})
			var mine int64
			for seq := uint64(0); sent.Load() < int64(p.flood); seq++ {
				// At the plan's rate: as fast as the readers of this one
				// process (nine members on two cores) take it in, so that
				// the daemons hold no queue for a lagging reader and their
				// memory shows what they keep, not how far we lagged.
				if p.rate > 0 {
					if ahead := time.Duration(mine*2*int64(time.Second)/int64(p.rate)) - time.Since(t0); ahead > 0 {
						time.Sleep(ahead)
					}
				}
				msg := make([]byte, messageSize())
				binary.BigEndian.PutUint64(msg, seq)
				fill.Read(msg[12:])
				binary.BigEndian.PutUint32(msg[8:], crc32.ChecksumIEEE(msg[12:]))
				if err := s.g.Send(ctx, msg, cpg.Agreed); err != nil {
					t.Errorf("flood: %s: send: %v", s.name, err)
					return
				}
				sent.Add(int64(len(msg)))
				mine += int64(len(msg))
			}
			if err := s.g.Send(ctx, []byte("done"), cpg.Agreed); err != nil {
				t.Errorf("flood: %s: send: %v", s.name, err)
			}
		}()
	}
	swg.Wait()
	wg.Wait()
	never.read(ctx, 0)
	took := time.Since(t0)
	want := fromFirstMessage(readers[0].keys)
	for _, m := range append(slices.Clone(readers), never, senders[0], senders[1]) {
		if m.end != nil {
			t.Errorf("flood: %s: %v", m.name, m.end)
			continue
		}
		if got := fromFirstMessage(m.keys); !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("flood: %s delivered %d events, %s %d; first difference at %d", m.name, len(got), readers[0].name, len(want), i)
		}
	}
	switch {
	case errors.Is(slow.end, cpg.ErrOverflow):
	case slow.end == nil:
		if got := fromFirstMessage(slow.keys); !slices.Equal(got, want) {
			t.Errorf("flood: the slow reader kept up but delivered another order")
		}
	default:
		t.Errorf("flood: slow reader: %v", slow.end)
	}
	pace := "unpaced"
	if p.rate > 0 {
		pace = fmt.Sprintf("paced at %d MiB/s", p.rate>>20)
	}
	t.Logf("flood round %d: %d MiB (%s) in %d events to %d members in %v; slow Queue(%d) reader: %v",
		round, sent.Load()>>20, pace, len(want), len(all), took.Round(time.Millisecond), p.queue, orOK(slow.end))
	// Half leave, half close: both goodbyes, under the load.
	for i, m := range all {
		if i%2 == 0 && m != slow {
			if err := m.g.Leave(ctx); err != nil {
				t.Errorf("flood: %s: leave: %v", m.name, err)
			}
		}
		m.g.Close()
	}
}

func orOK(err error) string {
	if err == nil {
		return "kept up"
	}
	return err.Error()
}

// logBefore returns the n lines of log before line.
func logBefore(log, line string, n int) string {
	ls := strings.Split(log, "\n")
	i := slices.Index(ls, line)
	if i < 0 {
		return ""
	}
	return strings.Join(ls[max(0, i-n):i+1], "\n")
}

// rssKiB returns the resident set size of process pid.
func rssKiB(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// interruptedMcast is the line corosync logs (at error level, whoever
// sends: libcpg's cpg_mcast_joined then returns CS_ERR_INTERRUPT) when a
// configuration change of the group cuts a fragmented mcast; Send sends the
// message again from its first fragment. The flood's slow member leaving
// mid-flood causes it.
var interruptedMcast = regexp.MustCompile(`\[CPG   \] \*\*\* 0x[0-9a-f]+ can't mcast to group flood[0-9]+ state:3, error:16$`)

// clientErrorLine matches daemon log lines caused by an IPC client: the
// IPC layer (libqb), event delivery, and the services' client handlers.
func clientErrorLine(l string) bool {
	for _, s := range []string{"[QB    ]", "event_send", "qb_ipcs", "[CPG   ]", "[CMAP  ]", "[CFG   ]", "[VOTEQ ]", "[QUORUM]", "[IPC", "ipc"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// TestStress is the abuse through the public API on a real 3-node
// cluster, node 1 carrying the load: rounds of load (see startLoad) with a
// cpg flood each, then, under the load, a kill -9 and restart of node 1's
// daemon and a partition and heal of node 3, then a last round with every
// client recovered. It checks:
//
//   - no daemon logs an error line caused by a client (clientErrorLine);
//   - nothing of ours is left in /dev/shm, for the killed daemon too;
//   - every error is of a class its call may end with (ledger), in
//     particular every steady call in flight at the kill fails with
//     CS_ERR_LIBRARY;
//   - every reader of a flood delivers the same messages in the same
//     order, on every node;
//   - the daemons' resident memory plateaus over the rounds.
//
// The short version runs in `make test`; COROSYNC_GO_SOAK=1 runs the soak
// (four 20 s rounds, 400 MiB of cpg each).
func TestStress(t *testing.T) {
	p := stressPlan()
	corotest.Exclusive(t) // it loads the machine on purpose
	cl := corotest.Start(t, 3, corotest.Options{})
	t.Cleanup(func() { // before the cluster goes
		if t.Failed() {
			for _, n := range cl.Nodes {
				ls := strings.Split(strings.TrimSpace(n.Log()), "\n")
				t.Logf("node %d log, last lines:\n%s", n.ID, strings.Join(ls[max(0, len(ls)-40):], "\n"))
			}
		}
	})
	t.Logf("plan %s: %d rounds of %v, %d MiB of cpg each; daemon %s", p.name, p.rounds, p.phase, p.flood>>20, cl.Daemon())
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.rounds+2)*(p.phase+5*time.Minute))
	defer cancel()
	n1 := cl.Node(1)
	d1 := n1.Dialer()
	before := cl.ErrorCounts()
	pids := []int{n1.Pid(), cl.Node(2).Pid(), cl.Node(3).Pid()}
	l := newLedger()
	c1 := dialClients(t, ctx, d1)
	cps := map[uint32]*cpg.Client{1: c1.cp}
	for _, id := range []uint32{2, 3} {
		c, err := cpg.Dial(ctx, client.WithDialer(cl.Node(id).Dialer()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cps[id] = c
	}
	setKeys(t, ctx, c1.m)
	// A track that is never read.
	if _, err := c1.m.Track(ctx, "test.stress.", cmap.TrackModify|cmap.TrackPrefix); err != nil {
		t.Fatal(err)
	}
	load := startLoad(ctx, d1, c1, l)
	rss := map[int][]int{}
	for round := 0; round < p.rounds; round++ {
		time.Sleep(p.phase)
		flood(t, ctx, cl, cps, round, p)
		for _, pid := range pids {
			rss[pid] = append(rss[pid], rssKiB(pid))
		}
	}

	// Faults, under the load: kill -9 of node 1's daemon and a restart,
	// then node 3 cut off and back.
	l.fault.Add(1)
	killed := n1.Pid()
	l.kill.Store(time.Now().UnixNano())
	if err := n1.Kill(); err != nil {
		t.Fatal(err)
	}
	l.gone.Store(true)
	time.Sleep(500 * time.Millisecond)
	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitFormed(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Every connection of ours to the killed daemon is gone, files too.
	deadline := time.Now().Add(15 * time.Second)
	for len(corotest.ShmFiles(killed)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	left := corotest.ShmFiles(killed)
	t.Logf("after kill -9 of node 1's daemon (pid %d): %d connections of ours left in /dev/shm (%d files)", killed, len(corotest.ShmConnections(killed)), len(left))
	if len(left) > 0 {
		t.Errorf("the killed daemon's files of our connections remain: %v", left)
	}
	if err := cl.Node(3).Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := cl.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitFormed(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the clients reconnect and settle
	setKeys(t, ctx, c1.m)   // the restart lost them
	l.fault.Add(1)

	// A last round, strict again: everything recovered.
	time.Sleep(p.phase)
	load.halt()
	c1.close()
	for _, c := range cps {
		c.Close()
	}

	// Nothing of ours in /dev/shm, for any daemon.
	for _, pid := range []int{killed, n1.Pid(), cl.Node(2).Pid(), cl.Node(3).Pid()} {
		deadline := time.Now().Add(15 * time.Second)
		for len(corotest.ShmFiles(pid)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if left := corotest.ShmFiles(pid); len(left) > 0 {
			t.Errorf("daemon %d: /dev/shm still holds %v", pid, left)
		}
	}

	t.Logf("outcomes by operation and class:")
	l.report(t)

	// No error line caused by a client, on any node.
	for _, n := range cl.Nodes {
		lines := n.ErrorLines()
		var client, interrupted int
		for _, line := range lines[min(before[n.ID], len(lines)):] {
			if interruptedMcast.MatchString(line) {
				interrupted++
				continue
			}
			if clientErrorLine(line) {
				client++
				t.Errorf("node %d logged: %s", n.ID, line)
				t.Logf("node %d log before it:\n%s", n.ID, logBefore(n.Log(), line, 15))
			} else {
				t.Logf("node %d logged (not a client's doing): %s", n.ID, line)
			}
		}
		t.Logf("node %d: %d error lines before, %d after: %d caused by a client, %d fragmented mcasts interrupted by a configuration change", n.ID, before[n.ID], len(lines), client, interrupted)
	}

	// Resident memory plateaus: after the first round (the high-water
	// mark of a flood), no round adds more than 10% + 8 MiB.
	for i, pid := range pids {
		r := rss[pid]
		t.Logf("node %d daemon RSS after each round (KiB): %v", i+1, r)
		for k := 1; k < len(r); k++ {
			if hw := slices.Max(r[:k]); r[k] > hw+hw/10+8<<10 {
				t.Errorf("node %d daemon RSS grows: %d KiB after round %d, high-water mark %d KiB before", i+1, r[k], k, hw)
			}
		}
	}
}
