//go:build linux

package matrix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

// TestSafetyEveryDaemon makes every public call of the five services, with
// their options and boundary arguments, against a 3-node cluster of every
// daemon of the version matrix, through node 1. Each call must succeed where
// the daemon supports it or fail with its documented error; the requests a
// release does not define must be refused with corosync.ErrNotSupported
// before anything is sent (four of them used to kill corosync 2.4.6).
// After each service, every daemon must still run and node 1's must still
// answer (its own corosync-quorumtool, and a fresh quorum client). A few
// answers are compared with the release's own tools. Last, cfg Shutdown
// (REGARDLESS) through node 3 stops node 3's daemon cleanly while nodes 1
// and 2 keep running and answering.
func TestSafetyEveryDaemon(t *testing.T) {
	ds := corotest.Daemons()
	if os.Getenv(corotest.EnvRequire) == "require" && len(ds) < len(corotest.MatrixDaemons) {
		var names []string
		for _, d := range ds {
			names = append(names, d.Name)
		}
		t.Fatalf("%d daemons installed (%v), want the %d of the matrix %v (scripts/build-daemons.sh)",
			len(ds), names, len(corotest.MatrixDaemons), corotest.MatrixDaemons)
	}
	if len(ds) == 0 {
		corotest.Require(t)
		t.Skip("no corosync installed")
	}
	for _, d := range ds {
		t.Run(d.Name, func(t *testing.T) {
			start := time.Now()
			r := newRun(t, d)
			defer func() {
				t.Logf("%s: %d calls checked in %v", d, r.calls, time.Since(start).Round(100*time.Millisecond))
			}()
			r.step("quorum", r.quorum)
			r.step("votequorum", r.votequorum)
			r.step("cmap", r.cmap)
			r.step("cpg", r.cpg)
			r.step("cfg", r.cfg)
			r.step("main probe", r.mainProbe)
			r.step("shutdown", r.shutdownNode3)
			t.Run("SetVotesTotalWrap", func(t *testing.T) { votesTotalWrap(t, d) })
		})
	}
}

// wantVersions is what each daemon of the matrix must be taken for.
var wantVersions = map[string]corosync.Version{
	"2.4.6":          corosync.Version2_4,
	"3.0.4":          corosync.Version3_0,
	"system":         corosync.Version3_1_6, // Debian 12's 3.1.7
	"3.1.10":         corosync.Version3_1_6,
	"main":           corosync.Version3_1_6,
	"3.1.10-qb1.0.3": corosync.Version3_1_6,
}

var fastBackoff = corosync.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.2}

// run is one daemon's cluster and what its calls found.
type run struct {
	t     *testing.T
	d     corotest.Daemon
	cl    *corotest.Cluster
	n1    *corotest.Node
	dial  transport.Dialer // node 1's
	want  corosync.Version
	calls int
	log   *slog.Logger
}

// wantVersion is wantVersions' entry for d, which must agree with
// corotest's ReleaseLine (used by the other packages' tests).
func wantVersion(t *testing.T, d corotest.Daemon) corosync.Version {
	want, ok := wantVersions[d.Name]
	if !ok {
		return d.ReleaseLine()
	}
	if got := d.ReleaseLine(); got != want {
		t.Errorf("%s: corotest's ReleaseLine says %v, want %v", d, got, want)
	}
	return want
}

func newRun(t *testing.T, d corotest.Daemon) *run {
	t.Helper()
	start := time.Now()
	cl := corotest.Start(t, 3, corotest.Options{Daemon: &d, TokenMS: 500})
	t.Logf("%s: 3-node cluster formed in %v", d, time.Since(start).Round(100*time.Millisecond))
	return &run{t: t, d: d, cl: cl, n1: cl.Node(1), dial: cl.Node(1).Dialer(), want: wantVersion(t, d), log: slog.New(slog.DiscardHandler)}
}

// step runs one service's batch, then checks that the cluster survived it.
func (r *run) step(name string, f func(ctx context.Context)) {
	r.t.Helper()
	start := time.Now()
	calls := r.calls
	ctx, cancel := context.WithTimeout(r.t.Context(), 90*time.Second)
	defer cancel()
	f(ctx)
	if name != "shutdown" {
		r.alive(ctx, "after the "+name+" calls")
	}
	r.t.Logf("%s: %-10s %3d calls, %v", r.d.Name, name, r.calls-calls, time.Since(start).Round(10*time.Millisecond))
}

// tail returns the last lines of node n's log.
func tail(n *corotest.Node, lines int) string {
	l := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// alive fails the test unless every daemon runs and node 1's answers both
// its own corosync-quorumtool and a fresh quorum client, quorate.
func (r *run) alive(ctx context.Context, when string) {
	r.t.Helper()
	for _, n := range r.cl.Nodes {
		if !n.Running() {
			r.t.Fatalf("%s %s: node %d's corosync is gone; log tail:\n%s", r.d, when, n.ID, tail(n, 40))
		}
	}
	r.answers(ctx, r.n1, when)
}

// answers checks that node n's daemon answers its own corosync-quorumtool -s
// and a fresh quorum client, both saying quorate.
func (r *run) answers(ctx context.Context, n *corotest.Node, when string) {
	r.t.Helper()
	tool, out, err := n.QuorumTool(ctx)
	if err != nil {
		r.t.Fatalf("%s %s: node %d does not answer corosync-quorumtool: %v\nlog tail:\n%s", r.d, when, n.ID, err, tail(n, 40))
	}
	c, err := quorum.Dial(ctx, client.WithDialer(n.Dialer()), client.WithBackoff(fastBackoff))
	if err != nil {
		r.t.Fatalf("%s %s: fresh quorum.Dial on node %d: %v\nlog tail:\n%s", r.d, when, n.ID, err, tail(n, 40))
	}
	defer c.Close()
	q, err := c.Quorate(ctx)
	if err != nil || !q || !tool {
		r.t.Fatalf("%s %s: node %d: Quorate %v, %v; corosync-quorumtool -s quorate %v:\n%s", r.d, when, n.ID, q, err, tool, out)
	}
}

// ok checks that call succeeded.
func (r *run) ok(call string, err error) bool {
	r.t.Helper()
	r.calls++
	if err != nil {
		r.t.Errorf("%s: %s: %v, want success", r.d.Name, call, err)
		return false
	}
	return true
}

// is checks that call failed with one of codes (or a cause errors.Is finds).
func (r *run) is(call string, err error, codes ...error) bool {
	r.t.Helper()
	r.calls++
	for _, c := range codes {
		if errors.Is(err, c) {
			return true
		}
	}
	r.t.Errorf("%s: %s: %v (%s), want %v", r.d.Name, call, err, corosync.Code(err).Name(), codes)
	return false
}

// isWhy is is with an explanation of a known disagreement added to the
// failure.
func (r *run) isWhy(call string, err error, why string, codes ...error) bool {
	r.t.Helper()
	r.calls++
	for _, c := range codes {
		if errors.Is(err, c) {
			return true
		}
	}
	r.t.Errorf("%s (%s): %s: %v (%s), want %v: %s", r.d.Name, r.d.Version, call, err, corosync.Code(err).Name(), codes, why)
	return false
}

// gated checks a call that the daemon's release may not define: refused
// with corosync.ErrNotSupported when refused is true, successful otherwise.
// It reports whether the call succeeded.
func (r *run) gated(call string, err error, refused bool) bool {
	r.t.Helper()
	if refused {
		r.is(call+" (not defined by "+r.want.String()+")", err, corosync.ErrNotSupported)
		return false
	}
	return r.ok(call, err)
}

// check records a condition on a result.
func (r *run) check(cond bool, format string, args ...any) {
	r.t.Helper()
	if !cond {
		r.t.Errorf("%s: "+format, append([]any{r.d.Name}, args...)...)
	}
}

// stream is what every subscription, track and group offers.
type stream[E any] interface {
	Next(context.Context) (E, error)
	TryNext() (E, error)
	Drain() []E
	Run(context.Context, func(E) error) error
	All(context.Context) iter.Seq2[E, error]
	Err() error
	Close() error
}

// idle checks a stream with nothing pending: TryNext says ErrTryAgain
// (an event is allowed: the daemon may still send one), Drain returns,
// Next, Run and All return once their short ctx ends.
func idle[E any](r *run, what string, s stream[E]) {
	r.t.Helper()
	if ev, err := s.TryNext(); err != nil {
		r.is(what+" TryNext", err, corosync.ErrTryAgain)
	} else {
		r.calls++
		r.t.Logf("%s: %s TryNext: late event %v", r.d.Name, what, ev)
	}
	r.calls++
	if evs := s.Drain(); len(evs) > 0 {
		r.t.Logf("%s: %s Drain: %d late events", r.d.Name, what, len(evs))
	}
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 30*time.Millisecond)
	}
	ctx, cancel := short()
	_, err := s.Next(ctx)
	cancel()
	if err != nil {
		r.is(what+" Next (nothing pending)", err, context.DeadlineExceeded)
	}
	ctx, cancel = short()
	err = s.Run(ctx, func(E) error { return nil })
	cancel()
	r.is(what+" Run until ctx ends", err, context.DeadlineExceeded)
	ctx, cancel = short()
	for _, err := range s.All(ctx) {
		if err != nil {
			r.is(what+" All until ctx ends", err, context.DeadlineExceeded)
		}
	}
	cancel()
	r.check(s.Err() == nil, "%s Err while live: %v", what, s.Err())
}

// closeTwice closes a stream twice (both nil); it then ends with an error
// carrying corosync.ErrBadHandle.
func closeTwice[E any](r *run, what string, s stream[E]) {
	r.t.Helper()
	r.ok(what+" Close", s.Close())
	r.ok(what+" Close again", s.Close())
	_, err := s.Next(context.Background())
	r.is(what+" Next after Close", err, corosync.ErrBadHandle)
	_, err = s.TryNext()
	r.is(what+" TryNext after Close", err, corosync.ErrBadHandle)
}

// quorumtool parses corosync-quorumtool -s's "Name: value" lines.
func quorumtool(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// quorum: Dial with each model and option, Quorate against the tool,
// Latest, Type, Model, subscriptions under every policy, StopTracking,
// Close twice and calls after it.
func (r *run) quorum(ctx context.Context) {
	opts := []client.Option{client.WithDialer(r.dial), client.WithBackoff(fastBackoff), client.WithLogger(r.log)}
	v1 := r.want.AtLeast(corosync.Version3_1_0)
	wantModel := quorum.ModelV0
	if v1 {
		wantModel = quorum.ModelV1
	}

	// The default Dial works everywhere (it once sent MODEL_GETTYPE to 2.4.6,
	// which killed it) and picks the model the daemon has.
	c, err := quorum.Dial(ctx, opts...)
	if !r.ok("quorum.Dial()", err) {
		r.alive(ctx, "after quorum.Dial()")
		r.t.Fatalf("%s: quorum.Dial() failed", r.d.Name)
	}
	r.check(c.DaemonVersion() == r.want, "quorum DaemonVersion %v, want %v", c.DaemonVersion(), r.want)
	r.check(c.Model() == wantModel, "quorum Model() %v after the default Dial, want %v", c.Model(), wantModel)
	r.check(c.Type() == quorum.QuorumSet, "quorum Type %v", c.Type())
	q, err := c.Quorate(ctx)
	r.ok("quorum Quorate", err)
	tool, out, terr := r.n1.QuorumTool(ctx)
	r.check(terr == nil && q && tool == q, "Quorate %v, corosync-quorumtool -s quorate %v (%v):\n%s", q, tool, terr, out)
	l := c.Latest()
	r.check(l.Quorate && slices.Equal(l.Members, []uint32{1, 2, 3}), "quorum Latest %v", l)
	r.check((l.Nodelist != nil) == v1, "quorum Latest nodelist %v with model %v", l.Nodelist, c.Model())
	if !v1 {
		r.check(l.Ring.NodeID == 0 && l.Ring.Seq != 0, "V0 ring %v", l.Ring)
	} else if l.Nodelist != nil {
		r.check(slices.Equal(l.Nodelist.Members, []uint32{1, 2, 3}) && l.Ring.NodeID == 1, "V1 latest %v", l)
	}

	for name, so := range map[string][]dispatch.SubOption{
		"default": nil, "LatestWins": {dispatch.LatestWins()}, "Queue(0)": {dispatch.Queue(0)},
		"Queue(8)": {dispatch.Queue(8)}, "Block(0)": {dispatch.Block(0)}, "Block(4)": {dispatch.Block(4)},
	} {
		what := "quorum Subscribe(" + name + ")"
		sub, err := c.Subscribe(ctx, so...)
		if !r.ok(what, err) {
			continue
		}
		ev, err := sub.Next(ctx)
		r.ok(what+" Next", err)
		r.check(ev.Kind == corosync.EventSnapshot && ev.Quorate && slices.Equal(ev.Members, []uint32{1, 2, 3}), "%s first event %v", what, ev)
		idle(r, what, sub)
		closeTwice(r, what, sub)
	}
	// C() delivers the snapshot too.
	sub, err := c.Subscribe(ctx)
	if r.ok("quorum Subscribe for C", err) {
		select {
		case ev := <-sub.C():
			r.check(ev.Kind == corosync.EventSnapshot, "quorum C first event %v", ev)
		case <-ctx.Done():
			r.t.Errorf("%s: quorum C: no snapshot", r.d.Name)
		}
		r.check(sub.Skipped() == 0, "quorum Skipped %d", sub.Skipped())
	}
	r.ok("quorum StopTracking", c.StopTracking(ctx))
	r.ok("quorum StopTracking again", c.StopTracking(ctx))
	q, err = c.Quorate(ctx)
	r.ok("quorum Quorate after StopTracking", err)
	r.check(q, "not quorate after StopTracking")
	r.ok("quorum Close", c.Close())
	r.ok("quorum Close again", c.Close())
	_, err = sub.Next(ctx)
	r.is("quorum Next on a subscription of a closed client", err, corosync.ErrBadHandle)
	_, err = c.Quorate(ctx)
	r.is("quorum Quorate after Close", err, corosync.ErrBadHandle)
	_, err = c.Subscribe(ctx)
	r.is("quorum Subscribe after Close", err, corosync.ErrBadHandle)
	r.is("quorum StopTracking after Close", c.StopTracking(ctx), corosync.ErrBadHandle)

	// Explicit models and the other options.
	c0, err := quorum.Dial(ctx, append(opts, quorum.WithModel(quorum.ModelV0), client.WithoutReconnect())...)
	if r.ok("quorum.Dial(WithModel(ModelV0), WithoutReconnect())", err) {
		r.check(c0.Model() == quorum.ModelV0, "explicit V0: Model %v", c0.Model())
		q, err := c0.Quorate(ctx)
		r.ok("quorum V0 Quorate", err)
		r.check(q, "V0 not quorate")
		r.check(c0.Latest().Nodelist == nil, "V0 Latest has a nodelist")
		c0.Close()
	}
	c1, err := quorum.Dial(ctx, append(opts, quorum.WithModel(quorum.ModelV1))...)
	if r.gated("quorum.Dial(WithModel(ModelV1))", err, !v1) {
		r.check(c1.Model() == quorum.ModelV1, "explicit V1: Model %v", c1.Model())
		l := c1.Latest()
		r.check(l.Nodelist != nil && slices.Equal(l.Nodelist.Members, []uint32{1, 2, 3}), "V1 Latest %v", l)
		c1.Close()
	}
	r.alive(ctx, "after quorum.Dial(WithModel(ModelV1))")
	_, err = quorum.Dial(ctx, append(opts, quorum.WithModel(2))...)
	r.is("quorum.Dial(WithModel(2))", err, corosync.ErrInvalidParam)
	cw, err := quorum.Dial(ctx, append(opts, client.WithWaitForDaemon())...)
	if r.ok("quorum.Dial(WithWaitForDaemon())", err) {
		r.check(cw.Model() == wantModel, "WithWaitForDaemon: Model %v", cw.Model())
		cw.Close()
	}
}

// votequorum: Info of every kind of node id, SetExpected and SetVotes at
// their boundaries, WhatIf, the whole quorum device API, subscriptions,
// Close twice.
func (r *run) votequorum(ctx context.Context) {
	opts := []client.Option{client.WithDialer(r.dial), client.WithBackoff(fastBackoff), client.WithLogger(r.log)}
	c, err := votequorum.Dial(ctx, opts...)
	if !r.ok("votequorum.Dial", err) {
		r.alive(ctx, "after votequorum.Dial")
		r.t.Fatalf("%s: votequorum.Dial failed", r.d.Name)
	}
	defer c.Close()
	// Only votequorum, which has requests only main defines, tells main
	// from 3.1.6.
	wantVQ := r.d.VotequorumLine()
	r.check(c.DaemonVersion() == wantVQ, "votequorum DaemonVersion %v, want %v", c.DaemonVersion(), wantVQ)
	sub, err := c.Subscribe(ctx, dispatch.Queue(64))
	if !r.ok("votequorum Subscribe(Queue(64))", err) {
		return
	}
	defer sub.Close()
	ev, err := sub.Next(ctx)
	r.ok("votequorum Next", err)
	r.check(ev.Kind == corosync.EventSnapshot && ev.Quorate && slices.Equal(ev.Members, []uint32{1, 2, 3}) && ev.ExpectedVotes == 3 && ev.Ring.Seq != 0,
		"votequorum snapshot %v", ev)
	idle(r, "votequorum Subscribe(Queue(64))", sub)

	// Info, against corosync-quorumtool -s.
	i0, err := c.Info(ctx, 0)
	r.ok("votequorum Info(0)", err)
	r.check(i0.NodeID == 1 && i0.State == votequorum.NodeStateMember && i0.Quorate() && i0.NodeVotes == 1 &&
		i0.NodeExpectedVotes == 3 && i0.TotalVotes == 3 && i0.Quorum == 2 && i0.QdeviceName == "", "Info(0) %v", i0)
	_, out, terr := r.n1.QuorumTool(ctx)
	qt := quorumtool(out)
	r.check(terr == nil && qt["Expected votes"] == fmt.Sprint(i0.NodeExpectedVotes) && qt["Total votes"] == fmt.Sprint(i0.TotalVotes) &&
		strings.Fields(qt["Quorum"] + " x")[0] == fmt.Sprint(i0.Quorum), "Info(0) %v; corosync-quorumtool -s (%v):\n%s", i0, terr, out)
	i1, err := c.Info(ctx, 1)
	r.ok("votequorum Info(own id)", err)
	r.check(i1 == i0, "Info(1) %v, Info(0) %v", i1, i0)
	i2, err := c.Info(ctx, 2)
	r.ok("votequorum Info(other id)", err)
	r.check(i2.NodeID == 2 && i2.State == votequorum.NodeStateMember && i2.NodeVotes == 1, "Info(2) %v", i2)
	for _, id := range []uint32{99, math.MaxUint32} {
		_, err := c.Info(ctx, id)
		r.is(fmt.Sprintf("votequorum Info(%d)", id), err, corosync.ErrNotExist)
	}

	// SetExpected: the encoder refuses 0 and above MaxVotes; the daemon
	// refuses below the total votes and what would lose quorum.
	for _, n := range []uint32{0, votequorum.MaxVotes + 1, math.MaxUint32} {
		r.is(fmt.Sprintf("votequorum SetExpected(%d)", n), c.SetExpected(ctx, n), corosync.ErrInvalidParam)
	}
	for _, n := range []uint32{1, 2, 6, votequorum.MaxVotes} {
		r.is(fmt.Sprintf("votequorum SetExpected(%d) on 3 votes", n), c.SetExpected(ctx, n), corosync.ErrInvalidParam)
	}
	if r.ok("votequorum SetExpected(3)", c.SetExpected(ctx, 3)) {
		r.waitVQ(ctx, sub, "expected votes 3", func(e votequorum.Event) bool { return e.Kind == corosync.EventExpectedVotes && e.ExpectedVotes == 3 })
	}
	if r.ok("votequorum SetExpected(4)", c.SetExpected(ctx, 4)) {
		r.waitVQ(ctx, sub, "expected votes 4", func(e votequorum.Event) bool { return e.Kind == corosync.EventExpectedVotes && e.ExpectedVotes == 4 })
	}
	if r.ok("votequorum SetExpected(3) back", c.SetExpected(ctx, 3)) {
		r.waitVQ(ctx, sub, "expected votes 3 again", func(e votequorum.Event) bool { return e.Kind == corosync.EventExpectedVotes && e.ExpectedVotes == 3 })
	}

	// SetVotes.
	r.is("votequorum SetVotes(Target{}, 1)", c.SetVotes(ctx, votequorum.Target{}, 1), corosync.ErrInvalidParam)
	r.is("votequorum SetVotes(Node(0), 1)", c.SetVotes(ctx, votequorum.Node(0), 1), corosync.ErrInvalidParam)
	for _, id := range []uint32{99, math.MaxUint32} {
		r.is(fmt.Sprintf("votequorum SetVotes(Node(%d), 1)", id), c.SetVotes(ctx, votequorum.Node(id), 1), corosync.ErrNameNotFound)
	}
	for _, v := range []uint32{votequorum.MaxVotes + 1, math.MaxUint32} {
		r.is(fmt.Sprintf("votequorum SetVotes(Node(2), %d)", v), c.SetVotes(ctx, votequorum.Node(2), v), corosync.ErrInvalidParam)
	}
	r.ok("votequorum SetVotes(Node(1), 1) (own, unchanged)", c.SetVotes(ctx, votequorum.Node(1), 1))
	r.ok("votequorum SetVotes(Node(2), 1) (other, unchanged)", c.SetVotes(ctx, votequorum.Node(2), 1))
	r.ok("votequorum SetVotes(QuorumDevice(), 0)", c.SetVotes(ctx, votequorum.QuorumDevice(), 0))
	if r.ok("votequorum SetVotes(Node(3), 0)", c.SetVotes(ctx, votequorum.Node(3), 0)) {
		r.waitInfo(ctx, c, 3, "node 3 without votes", func(i votequorum.Info) bool { return i.NodeVotes == 0 })
		i, err := c.Info(ctx, 0)
		r.ok("votequorum Info(0) with node 3 at 0 votes", err)
		r.check(i.TotalVotes == 2 && i.Quorate(), "node 3 at 0 votes: %v", i)
		r.ok("votequorum SetVotes(Node(3), 1)", c.SetVotes(ctx, votequorum.Node(3), 1))
		r.waitInfo(ctx, c, 3, "node 3 voting again", func(i votequorum.Info) bool { return i.NodeVotes == 1 })
		r.waitInfo(ctx, c, 0, "3 votes again", func(i votequorum.Info) bool { return i.TotalVotes == 3 })
	}

	// WhatIf.
	for _, w := range []struct {
		ch      votequorum.Change
		quorate bool
	}{
		{votequorum.Change{}, true},
		{votequorum.Change{StopNodes: []uint32{3}}, true},
		{votequorum.Change{FailNodes: []uint32{2, 3}}, false},
		{votequorum.Change{RemoveQdevice: true}, true},
		{votequorum.Change{StopNodes: []uint32{99}, FailNodes: []uint32{math.MaxUint32}}, true},
	} {
		o, err := c.WhatIf(ctx, w.ch)
		if r.ok(fmt.Sprintf("votequorum WhatIf(%+v)", w.ch), err) {
			r.check(o.Quorate == w.quorate, "WhatIf(%+v) = %v", w.ch, o)
		}
	}

	r.qdevice(ctx, c, sub)

	// More subscriptions, then Close twice and calls after it.
	for name, so := range map[string][]dispatch.SubOption{
		"default": nil, "LatestWins": {dispatch.LatestWins()}, "Block(1)": {dispatch.Block(1)}, "Queue(0)": {dispatch.Queue(0)},
	} {
		what := "votequorum Subscribe(" + name + ")"
		s, err := c.Subscribe(ctx, so...)
		if !r.ok(what, err) {
			continue
		}
		ev, err := s.Next(ctx)
		r.ok(what+" Next", err)
		r.check(ev.Kind == corosync.EventSnapshot, "%s first %v", what, ev)
		idle(r, what, s)
		closeTwice(r, what, s)
	}
	closeTwice(r, "votequorum Subscribe(Queue(64))", sub)
	r.ok("votequorum Close", c.Close())
	r.ok("votequorum Close again", c.Close())
	_, err = c.Info(ctx, 0)
	r.is("votequorum Info after Close", err, corosync.ErrBadHandle)
	r.is("votequorum SetExpected after Close", c.SetExpected(ctx, 3), corosync.ErrBadHandle)
	r.is("votequorum QdeviceRegister after Close", c.QdeviceRegister(ctx, "x"), corosync.ErrBadHandle)
	_, err = c.Subscribe(ctx)
	r.is("votequorum Subscribe after Close", err, corosync.ErrBadHandle)

	// The other options.
	cw, err := votequorum.Dial(ctx, append(opts, client.WithWaitForDaemon(), client.WithoutReconnect())...)
	if r.ok("votequorum.Dial(WithWaitForDaemon(), WithoutReconnect())", err) {
		i, err := cw.Info(ctx, 0)
		r.ok("votequorum Info(0) on a second client", err)
		r.check(i.Quorate() && i.TotalVotes == 3 && i.NodeExpectedVotes == 3, "Info(0) at the end %v", i)
		cw.Close()
	}
}

// qdevice runs the quorum device API: refusals before registration,
// register, update, poll, master wins, unregister, with boundary names.
func (r *run) qdevice(ctx context.Context, c *votequorum.Client, sub *dispatch.Subscription[votequorum.Event]) {
	long := strings.Repeat("q", votequorum.MaxQdeviceNameLen)
	const name = "go-safety"
	ring := func() corosync.RingID { return c.Latest().Ring }
	for _, bad := range []string{"", "a\x00b", long + "q"} {
		err := c.QdeviceRegister(ctx, bad)
		r.is(fmt.Sprintf("votequorum QdeviceRegister(%d-byte name)", len(bad)), err, corosync.ErrInvalidParam, corosync.ErrNameTooLong)
		err = c.QdevicePoll(ctx, bad, true, ring())
		r.is(fmt.Sprintf("votequorum QdevicePoll(%d-byte name)", len(bad)), err, corosync.ErrInvalidParam, corosync.ErrNameTooLong)
		err = c.QdeviceUpdate(ctx, name, bad)
		r.is(fmt.Sprintf("votequorum QdeviceUpdate(to a %d-byte name)", len(bad)), err, corosync.ErrInvalidParam, corosync.ErrNameTooLong)
		err = c.QdeviceMasterWins(ctx, bad, true)
		r.is(fmt.Sprintf("votequorum QdeviceMasterWins(%d-byte name)", len(bad)), err, corosync.ErrInvalidParam, corosync.ErrNameTooLong)
		err = c.QdeviceUnregister(ctx, bad)
		r.is(fmt.Sprintf("votequorum QdeviceUnregister(%d-byte name)", len(bad)), err, corosync.ErrInvalidParam, corosync.ErrNameTooLong)
	}
	// Nothing registered yet.
	r.is("votequorum QdevicePoll before register", c.QdevicePoll(ctx, name, true, ring()), corosync.ErrNotExist)
	r.is("votequorum QdeviceUpdate before register", c.QdeviceUpdate(ctx, name, "other"), corosync.ErrNotExist)
	r.is("votequorum QdeviceMasterWins before register", c.QdeviceMasterWins(ctx, name, true), corosync.ErrNotExist)
	r.is("votequorum QdeviceUnregister before register", c.QdeviceUnregister(ctx, name), corosync.ErrNotExist)

	// The longest name the encoder takes.
	if !r.ok("votequorum QdeviceRegister(254-byte name)", c.QdeviceRegister(ctx, long)) {
		return
	}
	r.ok("votequorum QdeviceRegister(same name again)", c.QdeviceRegister(ctx, long))
	r.is("votequorum QdeviceRegister(another name)", c.QdeviceRegister(ctx, "other"), corosync.ErrExist)
	r.waitInfo(ctx, c, 0, "device registered", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdevice) && i.QdeviceName == long })
	r.is("votequorum QdeviceUpdate(wrong old name)", c.QdeviceUpdate(ctx, "wrong", name), corosync.ErrInvalidParam)
	r.ok("votequorum QdeviceUpdate(254-byte name -> go-safety)", c.QdeviceUpdate(ctx, long, name))
	r.waitInfo(ctx, c, 0, "device renamed", func(i votequorum.Info) bool { return i.QdeviceName == name })
	r.extraInfo(ctx, c)

	r.is("votequorum QdevicePoll(stale ring)", c.QdevicePoll(ctx, name, true, corosync.RingID{NodeID: 1, Seq: 1}), corosync.ErrMessageError)
	r.is("votequorum QdevicePoll(zero ring)", c.QdevicePoll(ctx, name, true, corosync.RingID{}), corosync.ErrMessageError)
	r.is("votequorum QdevicePoll(wrong name)", c.QdevicePoll(ctx, "wrong", true, ring()), corosync.ErrInvalidParam)
	if r.ok("votequorum QdevicePoll(cast)", c.QdevicePoll(ctx, name, true, ring())) {
		r.waitInfo(ctx, c, 0, "device alive and casting", func(i votequorum.Info) bool {
			return i.Flags.Has(votequorum.FlagQdeviceAlive | votequorum.FlagQdeviceCastVote)
		})
	}
	if r.ok("votequorum QdevicePoll(no vote)", c.QdevicePoll(ctx, name, false, ring())) {
		r.waitInfo(ctx, c, 0, "device alive, not casting", func(i votequorum.Info) bool {
			return i.Flags.Has(votequorum.FlagQdeviceAlive) && !i.Flags.Has(votequorum.FlagQdeviceCastVote)
		})
	}
	r.is("votequorum QdeviceMasterWins(wrong name)", c.QdeviceMasterWins(ctx, "wrong", true), corosync.ErrInvalidParam)
	if r.ok("votequorum QdeviceMasterWins(true)", c.QdeviceMasterWins(ctx, name, true)) {
		r.waitInfo(ctx, c, 0, "master wins", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdeviceMasterWins) })
	}
	if r.ok("votequorum QdeviceMasterWins(false)", c.QdeviceMasterWins(ctx, name, false)) {
		r.waitInfo(ctx, c, 0, "master wins off", func(i votequorum.Info) bool { return !i.Flags.Has(votequorum.FlagQdeviceMasterWins) })
	}
	i2, err := c.Info(ctx, 2)
	r.ok("votequorum Info(2) with a device on node 1", err)
	r.check(!i2.Flags.Has(votequorum.FlagQdevice) && i2.QdeviceName == name, "Info(2) with node 1's device: %v", i2)
	r.is("votequorum QdeviceUnregister(wrong name)", c.QdeviceUnregister(ctx, "wrong"), corosync.ErrInvalidParam)
	r.ok("votequorum QdeviceUnregister", c.QdeviceUnregister(ctx, name))
	r.is("votequorum QdeviceUnregister again", c.QdeviceUnregister(ctx, name), corosync.ErrNotExist)
	r.waitInfo(ctx, c, 0, "device unregistered", func(i votequorum.Info) bool { return !i.Flags.Has(votequorum.FlagQdevice) })
	i, err := c.Info(ctx, 0)
	r.ok("votequorum Info(0) after the device", err)
	r.check(i.Quorate() && i.TotalVotes == 3 && i.Quorum == 2, "after the device: %v", i)
	sub.Drain()
}

// extraInfo makes main's quorum device extra info calls, with their
// boundary arguments, while a device is registered on node 1: refused
// before sending on every release, answered by main.
func (r *run) extraInfo(ctx context.Context, c *votequorum.Client) {
	refused := r.d.Name != "main"
	for _, n := range []int{0, 1, votequorum.MaxQdeviceExtraInfo} {
		if r.gated(fmt.Sprintf("votequorum SetQdeviceExtraInfo(%d bytes)", n), c.SetQdeviceExtraInfo(ctx, bytes.Repeat([]byte{0x5a}, n)), refused) {
			r.waitInfo(ctx, c, 0, "extra info", func(i votequorum.Info) bool { return i.Flags.Has(votequorum.FlagQdeviceHasExtraInfo) == (n > 0) })
			info, err := c.QdeviceExtraInfo(ctx, 1)
			r.ok("votequorum QdeviceExtraInfo(1)", err)
			r.check(len(info) == n, "QdeviceExtraInfo(1): %d bytes, want %d", len(info), n)
		}
	}
	err := c.SetQdeviceExtraInfo(ctx, make([]byte, votequorum.MaxQdeviceExtraInfo+1))
	r.is("votequorum SetQdeviceExtraInfo(4097 bytes)", err, corosync.ErrInvalidParam, corosync.ErrNotSupported)
	for _, id := range []uint32{0, 2, 3} {
		_, err := c.QdeviceExtraInfo(ctx, id)
		r.gated(fmt.Sprintf("votequorum QdeviceExtraInfo(%d)", id), err, refused)
	}
	for _, id := range []uint32{99, math.MaxUint32} {
		_, err := c.QdeviceExtraInfo(ctx, id)
		if refused {
			r.is(fmt.Sprintf("votequorum QdeviceExtraInfo(%d)", id), err, corosync.ErrNotSupported)
		} else {
			r.is(fmt.Sprintf("votequorum QdeviceExtraInfo(%d)", id), err, corosync.ErrNotExist)
		}
	}
	if !refused {
		r.ok("votequorum SetQdeviceExtraInfo(left set for unregister)", c.SetQdeviceExtraInfo(ctx, []byte("bye")))
	}
}

// mainProbe asks every daemon cpg's ZC_FREE of address 0, the question
// that tells corosync main from a release, 50 times on fresh connections:
// only main may answer as main, and every daemon must stay up and
// answering (alive, after the step).
func (r *run) mainProbe(ctx context.Context) {
	for range 50 {
		main, err := session.ProbeMain(ctx, r.dial, fastBackoff)
		r.ok("cpg ZC_FREE(0) (the main probe)", err)
		r.check(main == (r.d.Name == "main"), "the probe says main=%v", main)
	}
	// The raw answers: a release leaves the error field unset, and it must
	// not read as TRY_AGAIN (the probe would take that for a sync and ask
	// again until it gives up).
	codes := map[string]int{}
	for range 20 {
		t, err := r.dial.Dial(ctx, "cpg")
		if !r.ok("dial cpg", err) {
			return
		}
		out, err := t.Request(ctx, cpgwire.AppendMainProbe(nil), nil)
		t.Close()
		h, herr := wire.DecodeResponseHeader(out)
		if !r.ok("cpg ZC_FREE(0), raw", errors.Join(err, herr)) {
			return
		}
		codes[fmt.Sprintf("id %d error %d", h.ID, int32(h.Error))]++
		if r.d.Name == "main" {
			r.check(h.ID == cpgwire.ResNull && h.Error == corosync.ErrNotSupported, "main's answer: id %d, error %d", h.ID, h.Error)
		} else {
			r.check(h.ID == 0 && h.Error != corosync.ErrTryAgain, "a release's answer: id %d, error %d", h.ID, h.Error)
		}
	}
	r.t.Logf("%s: ZC_FREE(0) answers: %v", r.d.Name, codes)
}

// waitVQ reads sub until ok holds.
func (r *run) waitVQ(ctx context.Context, sub *dispatch.Subscription[votequorum.Event], what string, ok func(votequorum.Event) bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			r.t.Errorf("%s: votequorum: no event for %s: %v", r.d.Name, what, err)
			return
		}
		if ok(ev) {
			return
		}
	}
}

// waitInfo polls Info(id) until ok holds (changes land when totem delivers
// them).
func (r *run) waitInfo(ctx context.Context, c *votequorum.Client, id uint32, what string, ok func(votequorum.Info) bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		i, err := c.Info(ctx, id)
		if err == nil && ok(i) {
			return
		}
		if ctx.Err() != nil {
			r.t.Errorf("%s: votequorum: %s: last Info(%d) %v, %v", r.d.Name, what, id, i, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmap: every value type set, got, adjusted and deleted on test.* keys at
// its limits, key and value boundaries, read-only keys, iteration with
// prefixes against corosync-cmapctl, tracking, the stats map.
func (r *run) cmap(ctx context.Context) {
	opts := []client.Option{client.WithDialer(r.dial), client.WithBackoff(fastBackoff), client.WithLogger(r.log), cmap.WithDaemonKeyWrites()} // the daemon's own refusals
	c, err := cmap.Dial(ctx, opts...)
	if !r.ok("cmap.Dial", err) {
		r.alive(ctx, "after cmap.Dial")
		r.t.Fatalf("%s: cmap.Dial failed", r.d.Name)
	}
	defer c.Close()
	r.check(c.DaemonVersion() == r.want, "cmap DaemonVersion %v, want %v", c.DaemonVersion(), r.want)
	r.check(c.Map() == cmap.MapICMap, "cmap Map %v", c.Map())

	// totem.cluster_name against corosync-cmapctl -g.
	name, err := c.GetString(ctx, "totem.cluster_name")
	r.ok("cmap GetString(totem.cluster_name)", err)
	tool := r.n1.Cmapctl(r.t, "-g", "totem.cluster_name")
	r.check(name == r.cl.Name() && len(tool) == 1 && tool[0].Type == "str" && tool[0].Text == name,
		"totem.cluster_name %q; corosync-cmapctl -g: %+v; cluster %q", name, tool, r.cl.Name())
	_, err = c.GetUint8(ctx, "totem.cluster_name")
	var te *cmap.TypeError
	r.is("cmap GetUint8 of a str key", err, corosync.ErrInvalidParam)
	r.check(errors.As(err, &te), "GetUint8 of a str key: %T %v", err, err)
	_, err = c.Get(ctx, "test.safety.missing")
	r.is("cmap Get(missing key)", err, corosync.ErrNotExist)

	// Every type at its limits, through Set and the typed setters.
	type typed struct {
		name     string
		min, max cmap.Value
		set      func(string) error // the typed setter with a middle value
		get      func(string) (any, error)
		want     any
		integer  bool
	}
	types := []typed{
		{"i8", cmap.Int8(math.MinInt8), cmap.Int8(math.MaxInt8), func(k string) error { return c.SetInt8(ctx, k, -8) }, func(k string) (any, error) { return c.GetInt8(ctx, k) }, int8(-8), true},
		{"u8", cmap.Uint8(0), cmap.Uint8(math.MaxUint8), func(k string) error { return c.SetUint8(ctx, k, 8) }, func(k string) (any, error) { return c.GetUint8(ctx, k) }, uint8(8), true},
		{"i16", cmap.Int16(math.MinInt16), cmap.Int16(math.MaxInt16), func(k string) error { return c.SetInt16(ctx, k, -16) }, func(k string) (any, error) { return c.GetInt16(ctx, k) }, int16(-16), true},
		{"u16", cmap.Uint16(0), cmap.Uint16(math.MaxUint16), func(k string) error { return c.SetUint16(ctx, k, 16) }, func(k string) (any, error) { return c.GetUint16(ctx, k) }, uint16(16), true},
		{"i32", cmap.Int32(math.MinInt32), cmap.Int32(math.MaxInt32), func(k string) error { return c.SetInt32(ctx, k, -32) }, func(k string) (any, error) { return c.GetInt32(ctx, k) }, int32(-32), true},
		{"u32", cmap.Uint32(0), cmap.Uint32(math.MaxUint32), func(k string) error { return c.SetUint32(ctx, k, 32) }, func(k string) (any, error) { return c.GetUint32(ctx, k) }, uint32(32), true},
		{"i64", cmap.Int64(math.MinInt64), cmap.Int64(math.MaxInt64), func(k string) error { return c.SetInt64(ctx, k, -64) }, func(k string) (any, error) { return c.GetInt64(ctx, k) }, int64(-64), true},
		{"u64", cmap.Uint64(0), cmap.Uint64(math.MaxUint64), func(k string) error { return c.SetUint64(ctx, k, 64) }, func(k string) (any, error) { return c.GetUint64(ctx, k) }, uint64(64), true},
		{"flt", cmap.Float(-math.MaxFloat32), cmap.Float(math.MaxFloat32), func(k string) error { return c.SetFloat(ctx, k, 0.5) }, func(k string) (any, error) { return c.GetFloat(ctx, k) }, float32(0.5), false},
		{"dbl", cmap.Double(-math.MaxFloat64), cmap.Double(math.MaxFloat64), func(k string) error { return c.SetDouble(ctx, k, -2.5) }, func(k string) (any, error) { return c.GetDouble(ctx, k) }, float64(-2.5), false},
		{"str", cmap.String(""), cmap.String(strings.Repeat("s", cmap.MaxStringLen)), func(k string) error { return c.SetString(ctx, k, "a b=c") }, func(k string) (any, error) { return c.GetString(ctx, k) }, "a b=c", false},
		{"bin", cmap.Binary([]byte{0}), cmap.Binary(bytes.Repeat([]byte{0xfe}, cmap.MaxValueLen)), func(k string) error { return c.SetBinary(ctx, k, []byte{1, 0, 0xff}) }, func(k string) (any, error) { return c.GetBinary(ctx, k) }, []byte{1, 0, 0xff}, false},
	}
	for _, ty := range types {
		key := "test.safety." + ty.name
		for _, v := range []cmap.Value{ty.min, ty.max} {
			if r.ok(fmt.Sprintf("cmap Set(%s, %s of %d bytes)", key, v.Type(), v.Len()), c.Set(ctx, key, v)) {
				got, err := c.Get(ctx, key)
				r.ok("cmap Get("+key+")", err)
				r.check(got.Equal(v), "%s: got %s, set %s", key, trunc(got.String()), trunc(v.String()))
			}
		}
		if ty.integer {
			// From the maximum, Inc wraps to the minimum and Dec back.
			r.ok("cmap Inc("+key+") at max", c.Inc(ctx, key))
			got, err := c.Get(ctx, key)
			r.ok("cmap Get("+key+") after Inc", err)
			r.check(got.Equal(ty.min), "%s: Inc of max = %s, want %s", key, got.String(), ty.min.String())
			r.ok("cmap Dec("+key+") at min", c.Dec(ctx, key))
			got, err = c.Get(ctx, key)
			r.ok("cmap Get("+key+") after Dec", err)
			r.check(got.Equal(ty.max), "%s: Dec of min = %s, want %s", key, got.String(), ty.max.String())
		} else {
			r.is("cmap Inc("+key+")", c.Inc(ctx, key), corosync.ErrInvalidParam)
			r.is("cmap Dec("+key+")", c.Dec(ctx, key), corosync.ErrInvalidParam)
		}
		if r.ok("cmap typed Set("+key+")", ty.set(key)) {
			got, err := ty.get(key)
			r.ok("cmap typed Get("+key+")", err)
			r.check(fmt.Sprint(got) == fmt.Sprint(ty.want), "%s: typed get %v, want %v", key, got, ty.want)
		}
		r.ok("cmap Delete("+key+")", c.Delete(ctx, key))
		r.is("cmap Delete("+key+") again", c.Delete(ctx, key), corosync.ErrNotExist)
		_, err := c.Get(ctx, key)
		r.is("cmap Get("+key+") after Delete", err, corosync.ErrNotExist)
		r.is("cmap Inc("+key+") after Delete", c.Inc(ctx, key), corosync.ErrNotExist)
	}
	// A value the tool must read the same.
	if r.ok("cmap SetUint32(test.safety.tool)", c.SetUint32(ctx, "test.safety.tool", 4000000000)) {
		tool := r.n1.Cmapctl(r.t, "-g", "test.safety.tool")
		r.check(len(tool) == 1 && tool[0].Type == "u32" && tool[0].Text == "4000000000", "corosync-cmapctl -g test.safety.tool: %+v", tool)
	}
	// A key may change type.
	r.ok("cmap SetString over a u32", c.SetString(ctx, "test.safety.tool", "now a string"))
	s, err := c.GetString(ctx, "test.safety.tool")
	r.ok("cmap GetString after a type change", err)
	r.check(s == "now a string", "type change: %q", s)
	r.ok("cmap Delete(test.safety.tool)", c.Delete(ctx, "test.safety.tool"))

	// Value boundaries the encoder refuses.
	r.is("cmap SetString(NUL inside)", c.SetString(ctx, "test.safety.x", "a\x00b"), corosync.ErrInvalidParam)
	r.is("cmap SetString(MaxStringLen+1)", c.SetString(ctx, "test.safety.x", strings.Repeat("s", cmap.MaxStringLen+1)), corosync.ErrTooBig)
	r.is("cmap SetBinary(MaxValueLen+1)", c.SetBinary(ctx, "test.safety.x", make([]byte, cmap.MaxValueLen+1)), corosync.ErrTooBig)
	r.is("cmap Set(zero Value)", c.Set(ctx, "test.safety.x", cmap.Value{}), corosync.ErrInvalidParam)
	_, err = c.Get(ctx, "test.safety.x")
	r.is("cmap Get of a key no refused Set created", err, corosync.ErrNotExist)

	// Key boundaries.
	longKey := "test.safety." + strings.Repeat("k", cmap.MaxKeyLen-len("test.safety."))
	for _, k := range []string{"tst", longKey, "test.safety.aZ09._-/:"} {
		if r.ok(fmt.Sprintf("cmap SetUint8(%d-byte key)", len(k)), c.SetUint8(ctx, k, 1)) {
			v, err := c.GetUint8(ctx, k)
			r.ok(fmt.Sprintf("cmap GetUint8(%d-byte key)", len(k)), err)
			r.check(v == 1, "%d-byte key: %d", len(k), v)
			r.ok(fmt.Sprintf("cmap Delete(%d-byte key)", len(k)), c.Delete(ctx, k))
		}
	}
	for _, k := range []struct {
		key  string
		code corosync.Error
	}{
		{"", corosync.ErrInvalidParam}, {"ab", corosync.ErrInvalidParam}, {longKey + "k", corosync.ErrNameTooLong},
		{"test.safety.bad key", corosync.ErrInvalidParam}, {"test.safety.a\x00", corosync.ErrInvalidParam}, {"test.safety.é", corosync.ErrInvalidParam},
	} {
		what := fmt.Sprintf("%d-byte key %q", len(k.key), trunc(k.key))
		var ke *cmap.KeyError
		err := c.SetUint8(ctx, k.key, 1)
		r.is("cmap SetUint8("+what+")", err, k.code)
		r.check(errors.As(err, &ke), "SetUint8(%s): %T", what, err)
		_, err = c.Get(ctx, k.key)
		r.is("cmap Get("+what+")", err, k.code)
		r.is("cmap Delete("+what+")", c.Delete(ctx, k.key), k.code)
		r.is("cmap Inc("+what+")", c.Inc(ctx, k.key), k.code)
		r.is("cmap Dec("+what+")", c.Dec(ctx, k.key), k.code)
		if k.key != "" && k.key != "ab" { // prefixes may be short
			_, err = c.Track(ctx, k.key, cmap.TrackChanges)
			r.is("cmap Track("+what+")", err, k.code)
			r.is("cmap Iter("+what+")", iterErr(c.Iter(ctx, k.key)), k.code)
		}
	}

	// Read-only keys.
	r.is("cmap Delete(totem.cluster_name)", c.Delete(ctx, "totem.cluster_name"), corosync.ErrAccess)
	r.is("cmap SetString(totem.cluster_name)", c.SetString(ctx, "totem.cluster_name", "x"), corosync.ErrAccess)
	r.is("cmap SetUint32(runtime.config.totem.token)", c.SetUint32(ctx, "runtime.config.totem.token", 1), corosync.ErrAccess)
	r.is("cmap Inc(runtime.config.totem.token)", c.Inc(ctx, "runtime.config.totem.token"), corosync.ErrAccess)
	tok, err := c.GetUint32(ctx, "runtime.config.totem.token")
	r.ok("cmap GetUint32(runtime.config.totem.token)", err)
	r.check(tok == 500, "runtime.config.totem.token %d, want 500", tok)

	r.cmapIter(ctx, c)
	r.cmapTrack(ctx, c)

	// The stats map: 3.0 and later.
	st, err := cmap.Dial(ctx, append(opts, cmap.WithMap(cmap.MapStats))...)
	if r.gated("cmap.Dial(WithMap(MapStats))", err, !r.want.AtLeast(corosync.Version3_0)) {
		r.cmapStats(ctx, st)
		st.Close()
	}
	r.alive(ctx, "after cmap.Dial(WithMap(MapStats))")
	_, err = cmap.Dial(ctx, append(opts, cmap.WithMap(7))...)
	r.is("cmap.Dial(WithMap(7))", err, corosync.ErrInvalidParam)
	cw, err := cmap.Dial(ctx, append(opts, client.WithWaitForDaemon(), client.WithoutReconnect(), cmap.WithMap(cmap.MapICMap))...)
	if r.ok("cmap.Dial(WithWaitForDaemon(), WithoutReconnect(), WithMap(MapICMap))", err) {
		_, err := cw.Get(ctx, "totem.cluster_name")
		r.ok("cmap Get on a second client", err)
		cw.Close()
	}

	r.ok("cmap Close", c.Close())
	r.ok("cmap Close again", c.Close())
	_, err = c.Get(ctx, "totem.cluster_name")
	r.is("cmap Get after Close", err, corosync.ErrBadHandle)
	r.is("cmap Set after Close", c.SetUint8(ctx, "test.safety.x", 1), corosync.ErrBadHandle)
	r.is("cmap Iter after Close", iterErr(c.Iter(ctx, "")), corosync.ErrBadHandle)
	_, err = c.Track(ctx, "test.safety.", cmap.TrackChanges|cmap.TrackPrefix)
	r.is("cmap Track after Close", err, corosync.ErrBadHandle)
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// iterErr runs an iteration to its end and returns its error.
func iterErr(seq iter.Seq2[cmap.Entry, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// cmapIter iterates with prefixes: everything, totem. (against
// corosync-cmapctl), keys just made, no match, an early break.
func (r *run) cmapIter(ctx context.Context, c *cmap.Client) {
	var all []cmap.Entry
	for e, err := range c.Iter(ctx, "") {
		if !r.ok("cmap Iter(\"\")", err) {
			break
		}
		all = append(all, e)
	}
	r.check(len(all) > 30, "Iter(\"\"): %d keys", len(all))
	var totem []cmap.Entry
	for e, err := range c.IterValues(ctx, "totem.") {
		if !r.ok("cmap IterValues(totem.)", err) {
			break
		}
		totem = append(totem, e)
	}
	tool := r.n1.Cmapctl(r.t, "totem.")
	if len(totem) != len(tool) {
		r.t.Errorf("%s: IterValues(totem.) %d keys, corosync-cmapctl totem. %d", r.d.Name, len(totem), len(tool))
	} else {
		for i, e := range totem {
			x := tool[i]
			r.check(e.Key == x.Key && e.Type.String() == x.Type && e.Value.Type() == e.Type, "totem. key %d: ours %s (%s), corosync-cmapctl %s (%s)", i, e.Key, e.Type, x.Key, x.Type)
			if e.Type != cmap.TypeBinary {
				r.check(e.Value.String() == x.Text, "%s: ours %q, corosync-cmapctl %q", e.Key, e.Value.String(), x.Text)
			}
		}
	}
	for i := range 5 {
		r.ok("cmap SetUint16(test.safety.iter.N)", c.SetUint16(ctx, fmt.Sprintf("test.safety.iter.%d", i), uint16(i)))
	}
	var keys []string
	for e, err := range c.IterValues(ctx, "test.safety.iter.") {
		if !r.ok("cmap IterValues(test.safety.iter.)", err) {
			break
		}
		v, _ := e.Value.Uint16()
		keys = append(keys, fmt.Sprintf("%s=%d", e.Key, v))
	}
	slices.Sort(keys)
	r.check(strings.Join(keys, ",") == "test.safety.iter.0=0,test.safety.iter.1=1,test.safety.iter.2=2,test.safety.iter.3=3,test.safety.iter.4=4",
		"IterValues(test.safety.iter.): %v", keys)
	n := 0
	for _, err := range c.Iter(ctx, "no.such.prefix.") {
		r.ok("cmap Iter(no.such.prefix.)", err)
		n++
	}
	r.check(n == 0, "Iter(no.such.prefix.): %d entries", n)
	n = 0
	for _, err := range c.Iter(ctx, "t") {
		r.ok("cmap Iter(t)", err)
		n++
	}
	r.check(n > 0, "Iter(t): nothing")
	// Breaking early finalises the daemon's iterator.
	for range 3 {
		for _, err := range c.Iter(ctx, "") {
			r.ok("cmap Iter then break", err)
			break
		}
	}
	for i := range 5 {
		r.ok("cmap Delete(test.safety.iter.N)", c.Delete(ctx, fmt.Sprintf("test.safety.iter.%d", i)))
	}
}

// cmapTrack: exact and prefix tracks with every flag and delivery policy.
func (r *run) cmapTrack(ctx context.Context, c *cmap.Client) {
	const key = "test.safety.track"
	_, err := c.Track(ctx, key, cmap.TrackPrefix)
	r.is("cmap Track(no flags)", err, corosync.ErrInvalidParam)
	_, err = c.Track(ctx, key, 0)
	r.is("cmap Track(flags 0)", err, corosync.ErrInvalidParam)
	exact, err := c.Track(ctx, key, cmap.TrackChanges, dispatch.Queue(16))
	if !r.ok("cmap Track(exact, changes, Queue(16))", err) {
		return
	}
	r.check(exact.Key() == key && exact.Flags() == cmap.TrackChanges, "track %q %v", exact.Key(), exact.Flags())
	prefix, err := c.Track(ctx, "test.safety.", cmap.TrackAdd|cmap.TrackPrefix, dispatch.Block(4))
	r.ok("cmap Track(prefix, add, Block(4))", err)
	every, err := c.Track(ctx, "", cmap.TrackDelete|cmap.TrackPrefix, dispatch.LatestWins())
	r.ok("cmap Track(\"\" prefix, delete, LatestWins)", err)
	mod, err := c.Track(ctx, key, cmap.TrackModify)
	r.ok("cmap Track(exact, modify)", err)
	if prefix == nil || every == nil || mod == nil {
		return
	}
	idle(r, "cmap Track(exact)", exact)

	r.ok("cmap Set tracked key", c.SetUint32(ctx, key, 1))
	r.ok("cmap Set tracked key again", c.SetUint32(ctx, key, 2))
	r.ok("cmap Delete tracked key", c.Delete(ctx, key))
	for i, w := range []cmap.Event{
		{Kind: corosync.EventAdd, Key: key, New: cmap.Uint32(1)},
		{Kind: corosync.EventModify, Key: key, New: cmap.Uint32(2), Old: cmap.Uint32(1)},
		{Kind: corosync.EventDelete, Key: key, Old: cmap.Uint32(2)},
	} {
		ev, err := exact.Next(ctx)
		r.ok("cmap Track Next", err)
		r.check(ev.Kind == w.Kind && ev.Key == w.Key && ev.New.Equal(w.New) && ev.Old.Equal(w.Old), "exact track event %d: %v, want %v", i, ev, w)
	}
	ev, err := prefix.Next(ctx)
	r.ok("cmap prefix Track Next", err)
	r.check(ev.Kind == corosync.EventAdd && ev.Key == key, "prefix track: %v", ev)
	ev, err = mod.Next(ctx)
	r.ok("cmap modify Track Next", err)
	r.check(ev.Kind == corosync.EventModify && ev.Key == key, "modify track: %v", ev)
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	for {
		ev, err := every.Next(ctx2)
		if !r.ok("cmap \"\" Track Next", err) || ev.Key == key {
			break
		}
	}
	cancel()
	idle(r, "cmap Track(exact)", exact)
	r.check(exact.Skipped() == 0, "exact track skipped %d", exact.Skipped())
	for name, tr := range map[string]*cmap.Track{"exact": exact, "prefix": prefix, "every": every, "modify": mod} {
		closeTwice(r, "cmap Track("+name+")", tr)
	}
}

// cmapStats reads the stats map: a counter, every key with its value (the
// reads that crash corosync 3.1.7 when sent with a short buffer), tracks,
// and the writes it refuses or takes (stats.clear.*).
func (r *run) cmapStats(ctx context.Context, st *cmap.Client) {
	r.check(st.Map() == cmap.MapStats, "stats Map %v", st.Map())
	r.check(st.DaemonVersion() == r.want, "stats DaemonVersion %v", st.DaemonVersion())
	_, err := st.GetUint64(ctx, "stats.srp.orf_token_tx")
	r.ok("cmap stats GetUint64(stats.srp.orf_token_tx)", err)
	n, procname := 0, ""
	for e, err := range st.IterValues(ctx, "stats.") {
		if !r.ok("cmap stats IterValues(stats.)", err) {
			break
		}
		n++
		if strings.HasSuffix(e.Key, ".procname") && procname == "" {
			procname = e.Key
		}
	}
	r.check(n > 20, "stats map: %d keys", n)
	if procname != "" {
		_, err := st.Track(ctx, procname, cmap.TrackModify)
		var de *cmap.DangerError
		r.is("cmap stats Track(exact "+procname+")", err, corosync.ErrInvalidParam)
		r.check(errors.As(err, &de), "exact track of %s: %T %v", procname, err, err)
		s, err := st.GetString(ctx, procname)
		r.ok("cmap stats GetString("+procname+")", err)
		r.check(s != "", "%s empty", procname)
	} else {
		r.t.Errorf("%s: no stats.ipcs.*.procname key", r.d.Name)
	}
	tr, err := st.Track(ctx, "stats.srp.orf_token_tx", cmap.TrackModify)
	if r.ok("cmap stats Track(exact u64 counter)", err) {
		closeTwice(r, "cmap stats Track(exact)", tr)
	}
	tr, err = st.Track(ctx, "stats.srp.", cmap.TrackChanges|cmap.TrackPrefix, dispatch.LatestWins())
	if r.ok("cmap stats Track(stats.srp. prefix)", err) {
		tr.Drain()
		closeTwice(r, "cmap stats Track(prefix)", tr)
	}
	err = st.SetUint64(ctx, "stats.srp.orf_token_tx", 1)
	r.is("cmap stats Set of a counter", err, corosync.ErrNotSupported, corosync.ErrAccess)
	r.is("cmap stats Delete of a counter", st.Delete(ctx, "stats.srp.orf_token_tx"), corosync.ErrNotSupported, corosync.ErrAccess)
	r.ok("cmap stats Set(stats.clear.totem)", st.SetUint8(ctx, "stats.clear.totem", 1))
	r.ok("cmap stats Set(stats.clear.all)", st.SetUint8(ctx, "stats.clear.all", 1))
	_, err = st.Get(ctx, "stats.no.such.key")
	r.is("cmap stats Get(missing)", err, corosync.ErrNotExist)
	r.ok("cmap stats Close", st.Close())
	r.ok("cmap stats Close again", st.Close())
}

// cpg: LocalNodeID, Members, Groups and GroupNames; Join with boundary names
// and every option; Send with every guarantee and size (fragmented ones
// included) delivered to members on nodes 1 and 2; Leave, Close.
func (r *run) cpg(ctx context.Context) {
	opts := []client.Option{client.WithDialer(r.dial), client.WithBackoff(fastBackoff), client.WithLogger(r.log)}
	c, err := cpg.Dial(ctx, opts...)
	if !r.ok("cpg.Dial", err) {
		r.alive(ctx, "after cpg.Dial")
		r.t.Fatalf("%s: cpg.Dial failed", r.d.Name)
	}
	defer c.Close()
	r.check(c.DaemonVersion() == r.want, "cpg DaemonVersion %v, want %v", c.DaemonVersion(), r.want)
	id, err := c.LocalNodeID(ctx)
	r.ok("cpg LocalNodeID", err)
	r.check(id == 1, "cpg LocalNodeID %d", id)
	peerC, err := cpg.Dial(ctx, client.WithDialer(r.cl.Node(2).Dialer()), client.WithBackoff(fastBackoff))
	if !r.ok("cpg.Dial on node 2", err) {
		return
	}
	defer peerC.Close()

	const group = "safety"
	m, err := c.Members(ctx, group)
	r.ok("cpg Members(group nobody joined)", err)
	r.check(len(m) == 0, "members of an unjoined group: %v", m)
	long := strings.Repeat("g", cpg.MaxNameLen)
	for _, bad := range []struct {
		name string
		code corosync.Error
	}{{"", corosync.ErrInvalidParam}, {long + "g", corosync.ErrNameTooLong}, {"a\x00b", corosync.ErrInvalidParam}} {
		_, err := c.Join(ctx, bad.name)
		r.is(fmt.Sprintf("cpg Join(%d-byte name %q)", len(bad.name), trunc(bad.name)), err, bad.code)
		_, err = c.Members(ctx, bad.name)
		r.is(fmt.Sprintf("cpg Members(%d-byte name)", len(bad.name)), err, bad.code)
	}

	g, err := c.Join(ctx, group)
	if !r.ok("cpg Join(safety)", err) {
		return
	}
	defer g.Close()
	r.check(g.Name() == group && g.LocalNodeID() == 1 && g.PID() == uint32(os.Getpid()) && g.Self() == cpg.Member{NodeID: 1, PID: g.PID()},
		"group %q node %d pid %d self %v", g.Name(), g.LocalNodeID(), g.PID(), g.Self())
	ev, err := g.Next(ctx)
	r.ok("cpg Next (own join)", err)
	r.check(ev.Kind == corosync.EventConfchg && slices.Equal(ev.Joined, []cpg.Member{{NodeID: 1, PID: g.PID(), Reason: cpg.ReasonJoin}}), "first event %v", ev)
	ev, err = g.Next(ctx)
	r.ok("cpg Next (totem)", err)
	r.check(ev.Kind == corosync.EventTotem && slices.Equal(ev.Nodes, []uint32{1, 2, 3}), "second event %v", ev)
	_, err = c.Join(ctx, group)
	r.is("cpg Join(same group, same pid)", err, corosync.ErrExist)
	g2, err := c.Join(ctx, group, cpg.WithPID(4242), cpg.Queue(64))
	if !r.ok("cpg Join(WithPID(4242), Queue(64))", err) {
		return
	}
	defer g2.Close()
	pg, err := peerC.Join(ctx, group, cpg.WithPID(777), cpg.Unbounded())
	if !r.ok("cpg Join on node 2 (WithPID(777), Unbounded)", err) {
		return
	}
	defer pg.Close()
	all := []cpg.Member{{NodeID: 1, PID: g.PID()}, {NodeID: 1, PID: 4242}, {NodeID: 2, PID: 777}}
	slices.SortFunc(all, func(a, b cpg.Member) int {
		if a.NodeID != b.NodeID {
			return int(a.NodeID) - int(b.NodeID)
		}
		return int(a.PID) - int(b.PID)
	})
	for _, grp := range []*cpg.Group{g, g2, pg} {
		r.waitCpgMembers(ctx, grp, len(all))
	}
	m, err = c.Members(ctx, group)
	r.ok("cpg Members(safety)", err)
	r.check(slices.Equal(m, all), "Members %v, want %v", m, all)
	m, err = pg.Members(ctx)
	r.ok("cpg Group.Members on node 2", err)
	r.check(slices.Equal(m, all), "node 2 Group.Members %v, want %v", m, all)

	// Boundary names that are valid: the longest, a C name, binary bytes.
	for _, name := range []string{long, "crmd\x00", "\xff\x01\x7f", "x"} {
		gg, err := c.Join(ctx, name, cpg.WithRejoin())
		if !r.ok(fmt.Sprintf("cpg Join(%d-byte name %q, WithRejoin)", len(name), trunc(name)), err) {
			continue
		}
		ev, err := gg.Next(ctx)
		r.ok("cpg Next on "+trunc(name), err)
		r.check(ev.Kind == corosync.EventConfchg && ev.Group == name, "first event of %q: %v", name, ev)
		m, err := c.Members(ctx, name)
		r.ok(fmt.Sprintf("cpg Members(%d-byte name)", len(name)), err)
		r.check(len(m) == 1 && m[0].NodeID == 1, "members of %q: %v", name, m)
		defer gg.Close()
	}
	names, err := c.GroupNames(ctx)
	r.ok("cpg GroupNames", err)
	for _, name := range []string{group, long, "crmd\x00", "\xff\x01\x7f", "x"} {
		r.check(slices.Contains(names, name), "GroupNames %q lacks %q", names, name)
	}
	gms, err := c.Groups(ctx)
	r.ok("cpg Groups", err)
	for _, mm := range all {
		r.check(slices.Contains(gms, cpg.GroupMember{Group: group, Member: mm}), "Groups lacks %v", mm)
	}
	if out, err := r.n1.Exec(ctx, "corosync-cpgtool"); err != nil || !bytes.Contains(out, []byte("safety")) || !bytes.Contains(out, []byte("4242")) {
		r.t.Errorf("%s: corosync-cpgtool does not list group safety with pid 4242: %v:\n%s", r.d.Name, err, out)
	}

	// Messages of every size and guarantee, from node 1 (g) and node 2.
	r.is("cpg Send(guarantee Safe+1)", g.Send(ctx, []byte("x"), cpg.Safe+1), corosync.ErrInvalidParam)
	sizes := []int{0, 1, 4096, cpg.MaxAtomicMessage, cpg.MaxAtomicMessage + 1, 2*cpg.MaxAtomicMessage + 3}
	guarantees := []cpg.Guarantee{cpg.Unordered, cpg.FIFO, cpg.Agreed, cpg.Safe}
	type sent struct {
		from cpg.Member
		n    int
		b    byte
	}
	var msgs []sent
	for i, n := range sizes {
		from, sender := g, "node 1"
		if i%2 == 1 {
			from, sender = pg, "node 2"
		}
		b := byte(i + 1)
		if n == 0 {
			b = 0
		}
		if r.ok(fmt.Sprintf("cpg Send(%d bytes, %v) from %s", n, guarantees[i%4], sender), from.Send(ctx, bytes.Repeat([]byte{b}, n), guarantees[i%4])) {
			msgs = append(msgs, sent{from.Self(), n, b})
		}
	}
	r.check(!g.FlowControlled(), "flow controlled after the sends")
	// Every member delivers the same sequence (total order), in which each
	// sender's messages keep their sending order.
	var first []sent
	for _, x := range []struct {
		name string
		grp  *cpg.Group
	}{{"node 1", g}, {"node 1 pid 4242", g2}, {"node 2", pg}} {
		var got []sent
		for i := range msgs {
			ev, err := r.nextMessage(ctx, x.grp)
			if !r.ok(fmt.Sprintf("cpg message %d on %s", i, x.name), err) {
				break
			}
			m := sent{ev.Sender, len(ev.Data), 0}
			if len(ev.Data) > 0 {
				m.b = ev.Data[0]
				r.check(bytes.Count(ev.Data, ev.Data[:1]) == len(ev.Data), "%s: message %d of %d bytes mixes bytes", x.name, i, len(ev.Data))
			}
			got = append(got, m)
		}
		for _, from := range []cpg.Member{g.Self(), pg.Self()} {
			bySender := func(l []sent) []sent {
				return slices.DeleteFunc(slices.Clone(l), func(m sent) bool { return m.from != from })
			}
			r.check(slices.Equal(bySender(got), bySender(msgs)), "%s: messages from %v: %v, sent %v", x.name, from, bySender(got), bySender(msgs))
		}
		if first == nil {
			first = got
		} else {
			r.check(slices.Equal(got, first), "%s delivered %v, node 1 delivered %v", x.name, got, first)
		}
	}
	r.check(g.Backlog() == 0, "backlog %d after reading", g.Backlog())
	idle(r, "cpg Group(safety)", g)

	// Leave: everyone sees it; the leaver's stream ends with ErrLeft.
	if r.ok("cpg Leave (pid 4242)", g2.Leave(ctx)) {
		left := []cpg.Member{{NodeID: 1, PID: 4242, Reason: cpg.ReasonLeave}}
		for name, grp := range map[string]*cpg.Group{"leaver": g2, "node 1": g, "node 2": pg} {
			ev, err := r.nextConfchg(ctx, grp)
			r.ok("cpg leave confchg on "+name, err)
			r.check(slices.Equal(ev.Left, left), "%s: leave confchg %v", name, ev)
		}
		_, err := g2.Next(ctx)
		r.is("cpg Next after Leave", err, cpg.ErrLeft)
		r.is("cpg Leave again", g2.Leave(ctx), corosync.ErrNotExist, corosync.ErrBadHandle)
		r.check(g2.Send(ctx, []byte("x"), cpg.Agreed) != nil, "Send after Leave succeeded")
		r.calls++
		r.ok("cpg Close after Leave", g2.Close())
	}
	// Close without leaving: procdown.
	closeTwice(r, "cpg Group(node 2)", pg)
	ev, err = r.nextConfchg(ctx, g)
	r.ok("cpg procdown confchg", err)
	r.check(len(ev.Left) == 1 && ev.Left[0] == cpg.Member{NodeID: 2, PID: 777, Reason: cpg.ReasonProcDown}, "after node 2's Close: %v", ev)
	r.is("cpg Send after Close", pg.Send(ctx, []byte("x"), cpg.Agreed), corosync.ErrBadHandle)

	// C delivers in order too.
	gc, err := c.Join(ctx, "safety-c", cpg.Queue(0))
	if r.ok("cpg Join(Queue(0))", err) {
		select {
		case ev := <-gc.C():
			r.check(ev.Kind == corosync.EventConfchg, "C first event %v", ev)
		case <-ctx.Done():
			r.t.Errorf("%s: cpg C: nothing", r.d.Name)
		}
		gc.Close()
	}

	r.ok("cpg Close", c.Close())
	r.ok("cpg Close again", c.Close())
	_, err = c.LocalNodeID(ctx)
	r.is("cpg LocalNodeID after Close", err, corosync.ErrBadHandle)
	_, err = c.Join(ctx, "after-close")
	r.is("cpg Join after Close", err, corosync.ErrBadHandle)
	_, err = c.Members(ctx, group)
	r.is("cpg Members after Close", err, corosync.ErrBadHandle)
	_, err = g.Next(ctx)
	r.is("cpg Group.Next after the client's Close", err, corosync.ErrBadHandle)

	cw, err := cpg.Dial(ctx, append(opts, client.WithWaitForDaemon(), client.WithoutReconnect())...)
	if r.ok("cpg.Dial(WithWaitForDaemon(), WithoutReconnect())", err) {
		// The daemon drops a closed member from its groups when totem
		// delivers the leave, a moment after Close returns.
		var names []string
		for {
			names, err = cw.GroupNames(ctx)
			if err != nil || !slices.Contains(names, "safety-c") || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		r.ok("cpg GroupNames on a second client", err)
		r.check(!slices.Contains(names, "safety-c"), "closed group still listed: %q", names)
		cw.Close()
	}
}

// nextMessage returns grp's next message, skipping membership events.
func (r *run) nextMessage(ctx context.Context, grp *cpg.Group) (cpg.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		ev, err := grp.Next(ctx)
		if err != nil || ev.Kind == corosync.EventMessage {
			return ev, err
		}
	}
}

// nextConfchg returns grp's next configuration change, skipping totem
// events; a message there is an error.
func (r *run) nextConfchg(ctx context.Context, grp *cpg.Group) (cpg.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		ev, err := grp.Next(ctx)
		if err != nil || ev.Kind == corosync.EventConfchg {
			return ev, err
		}
		if ev.Kind == corosync.EventMessage {
			return ev, fmt.Errorf("message %v before the confchg", ev)
		}
	}
}

// waitCpgMembers reads grp until a confchg shows n members.
func (r *run) waitCpgMembers(ctx context.Context, grp *cpg.Group, n int) {
	r.t.Helper()
	for {
		ev, err := r.nextConfchg(ctx, grp)
		if err != nil {
			r.t.Errorf("%s: cpg: %v waiting for %d members", r.d.Name, err, n)
			return
		}
		if len(ev.Members) == n {
			return
		}
	}
}

var localNodeIDLine = regexp.MustCompile(`Local node ID (\d+)`)

// cfg: LocalNodeID against the tool, NodeStatus of every kind of node id,
// RingStatus, NodeAddrs, ReopenLog, ReplyShutdown with nothing pending,
// KillNode of a node that does not exist, Reload, shutdown tracking,
// subscriptions, Close twice.
func (r *run) cfg(ctx context.Context) {
	opts := []client.Option{client.WithDialer(r.dial), client.WithBackoff(fastBackoff), client.WithLogger(r.log)}
	status31 := r.want.AtLeast(corosync.Version3_1_1)
	c, err := cfg.Dial(ctx, opts...)
	if !r.ok("cfg.Dial", err) {
		r.alive(ctx, "after cfg.Dial")
		r.t.Fatalf("%s: cfg.Dial failed", r.d.Name)
	}
	defer c.Close()
	r.check(c.DaemonVersion() == r.want, "cfg DaemonVersion %v, want %v", c.DaemonVersion(), r.want)
	l := c.Latest()
	r.check(l.Connected && !l.Tracking && l.LocalNodeID == 1, "cfg Latest %v", l)
	id, err := c.LocalNodeID(ctx)
	r.ok("cfg LocalNodeID", err)
	out, terr := r.n1.Exec(ctx, "corosync-cfgtool", "-s")
	m := localNodeIDLine.FindSubmatch(out)
	r.check(id == 1 && terr == nil && m != nil && string(m[1]) == "1", "cfg LocalNodeID %d; corosync-cfgtool -s (%v):\n%s", id, terr, out)

	// NodeStatus: 3.1 only.
	for _, nid := range []uint32{1, 2} {
		st, err := c.NodeStatus(ctx, nid)
		if r.gated(fmt.Sprintf("cfg NodeStatus(%d)", nid), err, !status31) {
			r.check(st.NodeID == nid && st.Reachable && st.Links[0].Enabled && st.Links[0].Connected, "NodeStatus(%d) %+v", nid, st)
		}
		r.alive(ctx, fmt.Sprintf("after cfg NodeStatus(%d)", nid))
	}
	for _, nid := range []uint32{0, 99, math.MaxUint32} {
		_, err := c.NodeStatus(ctx, nid)
		if status31 {
			r.is(fmt.Sprintf("cfg NodeStatus(%d)", nid), err, corosync.ErrFailedOperation)
		} else {
			r.gated(fmt.Sprintf("cfg NodeStatus(%d)", nid), err, true)
		}
	}

	rings, err := c.RingStatus(ctx)
	r.ok("cfg RingStatus", err)
	r.check(len(rings) == 1 && strings.Contains(rings[0].Name, r.n1.Addr) && !rings[0].Faulty(), "RingStatus %q", rings)
	r.check(bytes.Contains(out, []byte(r.n1.Addr)), "corosync-cfgtool -s does not show %s:\n%s", r.n1.Addr, out)

	for _, x := range []struct {
		id   uint32
		addr string
	}{{0, "192.0.2.1"}, {1, "192.0.2.1"}, {2, "192.0.2.2"}, {3, "192.0.2.3"}} {
		addrs, err := c.NodeAddrs(ctx, x.id)
		r.ok(fmt.Sprintf("cfg NodeAddrs(%d)", x.id), err)
		r.check(slices.Equal(addrs, []netip.Addr{netip.MustParseAddr(x.addr)}), "NodeAddrs(%d) = %v, want [%s]", x.id, addrs, x.addr)
	}
	for _, nid := range []uint32{99, math.MaxUint32} {
		_, err := c.NodeAddrs(ctx, nid)
		r.is(fmt.Sprintf("cfg NodeAddrs(%d)", nid), err, corosync.ErrNotExist)
	}

	// A daemon built on libqb without qb_log_file_reopen (libqb 1.0.3)
	// answers REOPEN_LOG_FILES with CS_ERR_NOT_SUPPORTED itself
	// (exec/logsys.c, HAVE_QB_LOG_FILE_REOPEN); cfg.ReopenLog documents
	// ErrNotSupported only for 2.x, where nothing is sent.
	if err := c.ReopenLog(ctx); r.want.AtLeast(corosync.Version3_0) && r.d.QB1() {
		r.is("cfg ReopenLog (corosync on libqb 1.0 answers it NOT_SUPPORTED itself)", err, corosync.ErrNotSupported)
	} else if r.want.AtLeast(corosync.Version3_0) && err != nil {
		r.calls++
		r.t.Errorf("%s: cfg ReopenLog: %v, want success", r.d.Name, err)
	} else {
		r.gated("cfg ReopenLog", err, !r.want.AtLeast(corosync.Version3_0))
	}
	r.alive(ctx, "after cfg ReopenLog")

	r.is("cfg ReplyShutdown(NO) with nothing pending", c.ReplyShutdown(ctx, cfg.ShutdownNo), corosync.ErrAccess)
	r.is("cfg ReplyShutdown(YES) with nothing pending", c.ReplyShutdown(ctx, cfg.ShutdownYes), corosync.ErrAccess)
	r.is("cfg ReplyShutdown(2)", c.ReplyShutdown(ctx, 2), corosync.ErrInvalidParam)
	r.is("cfg Shutdown(flags 3) (refused before sending)", c.Shutdown(ctx, 3), corosync.ErrInvalidParam)

	// cfg.KillNode's documentation: "An unknown or dead node fails with
	// corosync.ErrNotExist". corosync 2.x and 3.0 do not look the node up
	// (exec/cfg.c multicasts the kill and answers CS_OK; the membership
	// check arrived in 3.1).
	const killWhy = "cfg.KillNode documents ErrNotExist for an unknown node on corosync 3.1 (3.1.0 added the membership check; before it the daemon answers OK and kills nothing)"
	killUnknown := func(what string, err error) {
		r.t.Helper()
		if r.want.AtLeast(corosync.Version3_1_6) {
			r.isWhy(what, err, killWhy, corosync.ErrNotExist)
		} else {
			r.ok(what+" (2.x/3.0 do not look the node up)", err)
		}
	}
	killUnknown("cfg KillNode(99)", c.KillNode(ctx, 99, "corosync-go safety test"))
	killUnknown("cfg KillNode(99, MaxReasonLen-byte reason)", c.KillNode(ctx, 99, strings.Repeat("r", cfg.MaxReasonLen)))
	r.is("cfg KillNode(99, reason too long)", c.KillNode(ctx, 99, strings.Repeat("r", cfg.MaxReasonLen+1)), corosync.ErrNameTooLong)
	r.is("cfg KillNode(99, reason with NUL)", c.KillNode(ctx, 99, "a\x00b"), corosync.ErrInvalidParam)
	killUnknown("cfg KillNode(99, empty reason)", c.KillNode(ctx, 99, ""))

	start := time.Now()
	r.ok("cfg Reload", c.Reload(ctx))
	r.t.Logf("%s: cfg Reload answered in %v", r.d.Name, time.Since(start).Round(time.Millisecond))
	for _, n := range r.cl.Nodes {
		r.check(n.Running(), "node %d gone after Reload", n.ID)
	}
	id, err = c.LocalNodeID(ctx)
	r.ok("cfg LocalNodeID after Reload", err)
	r.check(id == 1, "LocalNodeID after Reload %d", id)

	for name, so := range map[string][]dispatch.SubOption{
		"default": nil, "LatestWins": {dispatch.LatestWins()}, "Queue(4)": {dispatch.Queue(4)}, "Block(1)": {dispatch.Block(1)},
	} {
		what := "cfg Subscribe(" + name + ")"
		sub, err := c.Subscribe(ctx, so...)
		if !r.ok(what, err) {
			continue
		}
		ev, err := sub.Next(ctx)
		r.ok(what+" Next", err)
		r.check(ev.Kind == corosync.EventSnapshot && ev.Connected && !ev.Tracking && ev.LocalNodeID == 1, "%s first %v", what, ev)
		idle(r, what, sub)
		closeTwice(r, what, sub)
	}

	// Shutdown tracking: 3.1 only.
	tc, err := cfg.Dial(ctx, append(opts, cfg.WithShutdownTracking())...)
	if r.gated("cfg.Dial(WithShutdownTracking())", err, !status31) {
		r.check(tc.Latest().Tracking, "tracker's Latest %v", tc.Latest())
		sub, err := tc.Subscribe(ctx, dispatch.Queue(8))
		if r.ok("cfg tracker Subscribe(Queue(8))", err) {
			ev, err := sub.Next(ctx)
			r.ok("cfg tracker Next", err)
			r.check(ev.Kind == corosync.EventSnapshot && ev.Tracking, "tracker snapshot %v", ev)
			idle(r, "cfg tracker subscription", sub)
			closeTwice(r, "cfg tracker subscription", sub)
		}
		r.is("cfg tracker ReplyShutdown with nothing pending", tc.ReplyShutdown(ctx, cfg.ShutdownNo), corosync.ErrAccess)
		r.ok("cfg tracker Close", tc.Close())
		r.ok("cfg tracker Close again", tc.Close())
	}
	r.alive(ctx, "after cfg.Dial(WithShutdownTracking())")
	cw, err := cfg.Dial(ctx, append(opts, client.WithWaitForDaemon(), client.WithoutReconnect())...)
	if r.ok("cfg.Dial(WithWaitForDaemon(), WithoutReconnect())", err) {
		_, err := cw.RingStatus(ctx)
		r.ok("cfg RingStatus on a second client", err)
		cw.Close()
	}

	r.ok("cfg Close", c.Close())
	r.ok("cfg Close again", c.Close())
	_, err = c.LocalNodeID(ctx)
	r.is("cfg LocalNodeID after Close", err, corosync.ErrBadHandle)
	r.is("cfg KillNode after Close", c.KillNode(ctx, 99, "x"), corosync.ErrBadHandle)
	r.is("cfg Shutdown after Close", c.Shutdown(ctx, cfg.ShutdownRequest), corosync.ErrBadHandle)
	_, err = c.Subscribe(ctx)
	r.is("cfg Subscribe after Close", err, corosync.ErrBadHandle)
}

// shutdownNode3: cfg Shutdown(REGARDLESS) through node 3 makes its daemon
// exit cleanly; nodes 1 and 2 keep running and answering.
func (r *run) shutdownNode3(ctx context.Context) {
	n3 := r.cl.Node(3)
	c, err := cfg.Dial(ctx, client.WithDialer(n3.Dialer()), client.WithBackoff(fastBackoff), client.WithoutReconnect())
	if !r.ok("cfg.Dial on node 3", err) {
		return
	}
	defer c.Close()
	id, err := c.LocalNodeID(ctx)
	r.ok("cfg LocalNodeID on node 3", err)
	r.check(id == 3, "node 3's LocalNodeID %d", id)
	start := time.Now()
	r.ok("cfg Shutdown(REGARDLESS) on node 3", c.Shutdown(ctx, cfg.ShutdownRegardless))
	for n3.Running() && time.Since(start) < 20*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if n3.Running() {
		r.t.Fatalf("%s: node 3 still runs %v after Shutdown(REGARDLESS); log tail:\n%s", r.d.Name, time.Since(start), tail(n3, 30))
	}
	r.t.Logf("%s: node 3 exited %v after Shutdown(REGARDLESS): %s", r.d.Name, time.Since(start).Round(time.Millisecond), n3.ExitStatus())
	// A clean exit is status 0 (corosync logs "Corosync Cluster Engine
	// exiting normally", then exits 0; a crash while exiting is a signal).
	// In one loaded CI run, 3.0.4's log lacked that last line, from a
	// process that exited in the usual 831 ms, before the exit status was
	// recorded: the status is the test now, the line is reported.
	clean := n3.ExitStatus() == "exit status 0"
	r.check(clean, "node 3 did not exit normally (%s); log tail:\n%s", n3.ExitStatus(), tail(n3, 30))
	if clean && !strings.Contains(n3.Log(), "Corosync Cluster Engine exiting normally") {
		r.t.Logf("%s: node 3 exited 0 but its last log line is missing; log tail:\n%s", r.d.Name, tail(n3, 5))
	}
	for _, n := range r.cl.Nodes[:2] {
		if !n.Running() {
			r.t.Fatalf("%s: node %d's corosync exited with node 3; log tail:\n%s", r.d.Name, n.ID, tail(n, 40))
		}
		if err := n.WaitMembers(ctx, 1, 2); err != nil {
			r.t.Fatalf("%s: node %d after node 3's shutdown: %v", r.d.Name, n.ID, err)
		}
		r.answers(ctx, n, "after node 3's shutdown")
	}
}

// votesTotalWrap gives a node of a 2-node cluster MaxVotes votes, the
// largest value SetVotes sends. votequorum.MaxVotes exists because corosync
// keeps quorum in 8 bits and wraps from 510 expected votes on, making a
// single node quorate; but the daemon adds the votes of every node, and
// raises the expected votes to that total. The call must either be refused
// (ErrInvalidParam) or leave a quorum that a node alone does not reach.
func votesTotalWrap(t *testing.T, d corotest.Daemon) {
	cl := corotest.Start(t, 2, corotest.Options{Daemon: &d, TokenMS: 500})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, client.WithDialer(cl.Node(1).Dialer()), client.WithBackoff(fastBackoff))
	if err != nil {
		t.Fatalf("%s: votequorum.Dial: %v", d.Name, err)
	}
	defer c.Close()
	// 1 + 509 votes would wrap the daemon's quorum: refused before sending.
	err = c.SetVotes(ctx, votequorum.Node(2), votequorum.MaxVotes)
	if !errors.Is(err, corosync.ErrInvalidParam) {
		t.Errorf("%s (%s): SAFETY: SetVotes(Node(2), MaxVotes=%d) on a 2-node cluster = %v, want ErrInvalidParam before sending (the total 510 wraps corosync's 8-bit quorum to 0)",
			d.Name, d.Version, votequorum.MaxVotes, err)
	}
	// 1 + 508 = 509 votes is the most the quorum holds: quorum 255.
	const total = votequorum.MaxVotes
	if err := c.SetVotes(ctx, votequorum.Node(2), total-1); err != nil {
		t.Fatalf("%s: SetVotes(Node(2), %d) (total %d): %v", d.Name, total-1, total, err)
	}
	var info votequorum.Info
	for {
		if info, err = c.Info(ctx, 0); err == nil && info.TotalVotes == total && info.HighestExpected == info.TotalVotes {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: votes never reached %d: %v %v", d.Name, total, info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if info.Quorum != (total+2)/2 {
		t.Errorf("%s: with %d votes the quorum is %d, want %d", d.Name, total, info.Quorum, (total+2)/2)
	}
	// Node 1 alone: 1 vote of 510 expected.
	if err := cl.Node(2).Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Node(1).WaitMembers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	alone, err := c.Info(ctx, 0)
	if err != nil {
		t.Fatalf("%s: Info(0) alone: %v", d.Name, err)
	}
	q, out, err := cl.Node(1).QuorumTool(ctx)
	for _, n := range cl.Nodes {
		if !n.Running() {
			t.Fatalf("%s: node %d's corosync is gone; log tail:\n%s", d.Name, n.ID, tail(n, 40))
		}
	}
	if err != nil || q || alone.Quorate() {
		t.Errorf("%s (%s): SAFETY: with %d votes in the cluster (Info %v), node 1 alone with 1 vote is quorate: Info %v; corosync-quorumtool -s quorate %v (%v):\n%s",
			d.Name, d.Version, total, info, alone, q, err, out)
	}
	if err := c.SetVotes(ctx, votequorum.Node(2), 1); err != nil {
		t.Logf("%s: SetVotes(Node(2), 1) to undo it: %v", d.Name, err)
	}
}
