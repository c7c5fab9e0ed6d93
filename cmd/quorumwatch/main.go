// Command quorumwatch shows whether this node is quorate and follows every
// change: quorum, membership, and the connection to corosync itself.
//
//	quorumwatch                 watch, one line per event
//	quorumwatch -json           the same as JSON lines
//	quorumwatch -once           print the state; exit 0 quorate, 2 not quorate, 1 error
//	quorumwatch -exec CMD       run CMD (via /bin/sh -c) whenever quorate changes
//	quorumwatch -sim            watch a simulated cluster (no corosync needed)
//	quorumwatch -status         print what corosync-quorumtool -s prints; exit as -once
//	quorumwatch -status -json   the same as one JSON object
//	quorumwatch -version        print the version (the module version, or the
//	                            commit of a build from a checkout) and exit 0
//
// Exit codes follow corosync-quorumtool: 0 quorate (or a clean stop of watch
// mode by SIGINT/SIGTERM), 2 not quorate (-once), 1 error.
//
// # JSON lines
//
// With -json each event is one object:
//
//	{"time":"2026-11-23T20:59:01.123Z","event":"quorum","quorate":true,
//	 "ring_id":"1.9","ring":{"nodeid":1,"seq":9},"members":[1,2,3]}
//
// event is snapshot, quorum, nodelist, disconnected or reconnected. nodelist
// events add "joined" and "left"; disconnected adds "error" (and quorate is
// false: a node that cannot reach corosync must not act as quorate);
// "skipped" counts events this watcher missed because it was too slow;
// "simulated": true marks every line of -sim.
//
// # Status
//
// -status prints corosync-quorumtool -s's report in its layout (without the
// Date line), from the quorum, votequorum, cfg and cmap services, as the
// daemon's own release prints it: on corosync 2.x the ring id is in decimal
// with a slash ("1/12") and nodes are named by their nodelist ring0_addr;
// on 3.x it is in hex with a dot ("1.c") and nodes go by their nodelist
// name. With -json it prints one object instead:
//
//	{"quorum_provider":"corosync_votequorum","nodes":3,"node_id":1,
//	 "ring_id":"1.10","quorate":true,
//	 "votequorum":{"expected_votes":3,"highest_expected":3,"total_votes":3,
//	   "quorum":2,"flags":["Quorate","Qdevice"]},
//	 "membership":[{"nodeid":1,"votes":1,"qdevice":"A,V,NMW","name":"node1","local":true}],
//	 "qdevice":{"name":"Qdevice","votes":1,"cast_vote":true}}
//
// votequorum is absent when the provider is not corosync_votequorum; flags
// are quorumtool's names (2Node Quorate WaitForAll LastManStanding
// AutoTieBreaker AllowDownscale Qdevice); a member's qdevice is "" when no
// member has a quorum device, "NR" when that node has none registered, else
// alive (A/NA), casting its vote (V/NV) and master wins (MW/NMW); qdevice is
// absent without a device, and cast_vote says whether this node counts its
// votes (quorumtool then shows 0 votes and "(votes N)").
//
// # Hooks
//
// -exec CMD runs `/bin/sh -c CMD quorumwatch STATE RING MEMBERS` on the first
// state and whenever quorate changes, with STATE "quorate" or "inquorate",
// RING the ring id and MEMBERS a comma-separated list, and the same in the
// environment: QUORUMWATCH_QUORATE (1 or 0), QUORUMWATCH_EVENT,
// QUORUMWATCH_RING_ID, QUORUMWATCH_MEMBERS and, under -sim,
// QUORUMWATCH_SIMULATED=1. Hooks never overlap: a change during a hook
// queues one more run with the newest state. A hook that outlives
// -exec-timeout is killed with its whole process group.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/buildinfo"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// testDialer replaces the transport in tests.
var testDialer transport.Dialer

const (
	exitQuorate    = 0
	exitError      = 1
	exitNotQuorate = 2
)

type options struct {
	json        bool
	once        bool
	status      bool
	exec        string
	execTimeout time.Duration
	sim         bool
	simStep     time.Duration
	model       string
	netns       string
	timeout     time.Duration
	version     bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("quorumwatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.json, "json", false, "print JSON lines")
	fs.BoolVar(&o.once, "once", false, "print the current state and exit: 0 quorate, 2 not quorate, 1 error")
	fs.BoolVar(&o.status, "status", false, "print what corosync-quorumtool -s prints (votequorum) and exit: 0 quorate, 2 not quorate, 1 error")
	fs.StringVar(&o.exec, "exec", "", "run this shell command whenever quorate changes (see the package doc)")
	fs.DurationVar(&o.execTimeout, "exec-timeout", 10*time.Second, "kill a hook that runs longer than this")
	fs.BoolVar(&o.sim, "sim", false, "watch a simulated cluster instead of the local corosync")
	fs.DurationVar(&o.simStep, "sim-step", time.Second, "pause between steps of the -sim scenario")
	fs.StringVar(&o.model, "model", "v1", "quorum notification model: v1 (with membership changes) or v0")
	fs.StringVar(&o.netns, "netns", "", "talk to the corosync of this network namespace (path)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for corosync when connecting")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quorumwatch [-json] [-once] [-exec CMD] [-sim] [-version] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.model != "v1" && o.model != "v0" {
		return o, fmt.Errorf("-model must be v1 or v0, not %q", o.model)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitQuorate
		}
		fmt.Fprintln(stderr, "quorumwatch:", err)
		return exitError
	}
	if o.version {
		fmt.Fprint(stdout, buildinfo.Read().String("quorumwatch"))
		return exitQuorate
	}
	out := &printer{w: stdout, json: o.json, sim: o.sim}
	if o.status {
		d := testDialer
		if d == nil {
			d = transport.NewDialer(transport.Config{NetNS: o.netns})
		}
		code, err := runStatus(ctx, o, stdout, d)
		if err != nil {
			out.errorf("%v", err)
		}
		return code
	}
	dialOpts := []client.Option{}
	if o.model == "v0" {
		dialOpts = append(dialOpts, quorum.WithModel(quorum.ModelV0))
	}
	var script func(context.Context)
	if o.sim {
		cluster, s := simulation(out, o.simStep)
		script = s
		dialOpts = append(dialOpts, client.WithDialer(cluster.Node(1)))
	} else if testDialer != nil {
		dialOpts = append(dialOpts, client.WithDialer(testDialer))
	} else if o.netns != "" {
		dialOpts = append(dialOpts, client.WithDialer(transport.NewDialer(transport.Config{NetNS: o.netns})))
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	c, err := quorum.Dial(dctx, dialOpts...)
	cancel()
	if err != nil {
		out.errorf("cannot connect to corosync: %v", err)
		return exitError
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, dispatch.Queue(64))
	if err != nil {
		out.errorf("%v", err)
		return exitError
	}
	defer sub.Close()

	if o.once {
		ev, err := sub.Next(ctx)
		if err != nil {
			out.errorf("%v", err)
			return exitError
		}
		out.event(ev)
		if ev.Quorate {
			return exitQuorate
		}
		return exitNotQuorate
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var hooks *hookRunner
	if o.exec != "" {
		hooks = &hookRunner{cmd: o.exec, timeout: o.execTimeout, sim: o.sim, out: out, pending: make(chan quorum.Event, 1)}
		wg.Add(1)
		go func() { defer wg.Done(); hooks.loop(runCtx) }()
	}
	scriptDone := make(chan struct{})
	if script != nil {
		wg.Add(1)
		go func() { defer wg.Done(); defer close(scriptDone); script(runCtx) }()
	}
	var last *bool
	// The scenario's end waits for the client to be connected again (its
	// last step restarts the daemon, and the reconnection backoff may be
	// longer than a step), bounded so that a broken mock cannot hang it.
	disconnected, ending := false, false
	var giveUp <-chan time.Time
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				out.errorf("subscription ended: %v", sub.Err())
				return exitError
			}
			out.event(ev)
			switch ev.Kind {
			case corosync.EventDisconnected:
				disconnected = true
			case corosync.EventReconnected:
				disconnected = false
			}
			if ending && !disconnected {
				ending, giveUp = false, nil
				time.AfterFunc(o.simStep, stopRun)
			}
			if hooks != nil && (last == nil || *last != ev.Quorate) {
				q := ev.Quorate
				last = &q
				hooks.notify(ev)
			}
		case <-scriptDone:
			scriptDone = nil
			if disconnected {
				ending = true
				giveUp = time.After(simReconnectWait)
				continue
			}
			// Let the last events and hooks land, then stop.
			time.AfterFunc(o.simStep, stopRun)
		case <-giveUp:
			ending, giveUp = false, nil
			stopRun()
		case <-runCtx.Done():
			return exitQuorate
		}
	}
}

// simReconnectWait bounds how long the -sim scenario's end waits for the
// client to reconnect after the simulated daemon restart.
const simReconnectWait = 10 * time.Second

// printer writes events and messages, one line each.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	sim  bool
}

type ringJSON struct {
	NodeID uint32 `json:"nodeid"`
	Seq    uint64 `json:"seq"`
}

// eventJSON is the -json schema; see the package documentation.
type eventJSON struct {
	Time      string    `json:"time"`
	Event     string    `json:"event"`
	Quorate   bool      `json:"quorate"`
	RingID    string    `json:"ring_id"`
	Ring      ringJSON  `json:"ring"`
	Members   []uint32  `json:"members"`
	Joined    *[]uint32 `json:"joined,omitempty"` // nodelist events only
	Left      *[]uint32 `json:"left,omitempty"`   // nodelist events only
	Skipped   uint64    `json:"skipped,omitempty"`
	Error     string    `json:"error,omitempty"`
	Message   string    `json:"message,omitempty"`
	Simulated bool      `json:"simulated,omitempty"`
}

func nonNil(l []uint32) []uint32 {
	if l == nil {
		return []uint32{}
	}
	return l
}

func (p *printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, s)
}

func (p *printer) emit(j eventJSON) {
	b, _ := json.Marshal(j)
	p.line(string(b))
}

func (p *printer) prefix() string {
	ts := time.Now().UTC().Format(time.RFC3339)
	if p.sim {
		return ts + " [simulated] "
	}
	return ts + " "
}

func (p *printer) event(ev quorum.Event) {
	if p.json {
		j := eventJSON{Time: time.Now().UTC().Format(time.RFC3339Nano), Event: ev.Kind.String(), Quorate: ev.Quorate,
			RingID: ev.Ring.String(), Ring: ringJSON{ev.Ring.NodeID, ev.Ring.Seq}, Members: nonNil(ev.Members),
			Skipped: ev.Skipped, Simulated: p.sim}
		if ev.Kind == corosync.EventNodelist && ev.Nodelist != nil {
			j.RingID = ev.Nodelist.Ring.String()
			j.Ring = ringJSON{ev.Nodelist.Ring.NodeID, ev.Nodelist.Ring.Seq}
			joined, left := nonNil(ev.Nodelist.Joined), nonNil(ev.Nodelist.Left)
			j.Members, j.Joined, j.Left = nonNil(ev.Nodelist.Members), &joined, &left
		}
		if ev.Err != nil {
			j.Error = ev.Err.Error()
		}
		p.emit(j)
		return
	}
	p.line(p.prefix() + human(ev))
}

func list(l []uint32) string {
	if len(l) == 0 {
		return "-"
	}
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(s, ",")
}

func human(ev quorum.Event) string {
	state := "NOT quorate"
	if ev.Quorate {
		state = "quorate"
	}
	var s string
	switch ev.Kind {
	case corosync.EventDisconnected:
		s = fmt.Sprintf("%-12s NOT quorate: lost the connection to corosync (%v); reconnecting", ev.Kind, ev.Err)
	case corosync.EventNodelist:
		n := ev.Nodelist
		s = fmt.Sprintf("%-12s ring %s members %s joined %s left %s", ev.Kind, n.Ring, list(n.Members), list(n.Joined), list(n.Left))
	default:
		s = fmt.Sprintf("%-12s %s, ring %s, members %s", ev.Kind, state, ev.Ring, list(ev.Members))
	}
	if ev.Skipped > 0 {
		s += fmt.Sprintf(" (missed %d events)", ev.Skipped)
	}
	return s
}

// note prints a message line (scenario steps, hook results).
func (p *printer) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.json {
		p.emit(eventJSON{Time: time.Now().UTC().Format(time.RFC3339Nano), Event: "message", Members: []uint32{}, Message: msg, Simulated: p.sim})
		return
	}
	p.line(p.prefix() + msg)
}

func (p *printer) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.json {
		p.emit(eventJSON{Time: time.Now().UTC().Format(time.RFC3339Nano), Event: "error", Members: []uint32{}, Error: msg, Simulated: p.sim})
		return
	}
	p.line(p.prefix() + "error: " + msg)
}

// simulation returns a mock cluster (node 3 down, so it can join) and the
// scripted scenario that drives it.
func simulation(out *printer, step time.Duration) (*mock.Cluster, func(context.Context)) {
	cl := mock.NewCluster(3)
	cl.Stop(3)
	steps := []struct {
		say string
		do  func()
	}{
		{"scenario: node 3 joins the cluster", func() { cl.Start(3) }},
		{"scenario: node 2 fails", func() { cl.Kill(2) }},
		{"scenario: node 2 comes back", func() { cl.Start(2) }},
		{"scenario: the network splits: node 1 alone, nodes 2 and 3 together", func() { cl.Partition([]uint32{1}, []uint32{2, 3}) }},
		{"scenario: the network heals", func() { cl.Heal() }},
		{"scenario: node 1's corosync restarts", func() { cl.Restart(1) }},
		{"scenario: done", func() {}},
	}
	return cl, func(ctx context.Context) {
		for _, s := range steps {
			select {
			case <-ctx.Done():
				return
			case <-time.After(step):
			}
			out.note("%s", s.say)
			s.do()
		}
	}
}

// hookRunner runs -exec hooks one at a time, newest state first.
type hookRunner struct {
	cmd     string
	timeout time.Duration
	sim     bool
	out     *printer
	pending chan quorum.Event // capacity 1: latest wins
}

// notify queues ev, replacing a queued but not yet started run. Only the
// event loop calls it.
func (h *hookRunner) notify(ev quorum.Event) {
	for {
		select {
		case h.pending <- ev:
			return
		default:
			select {
			case <-h.pending:
			default:
			}
		}
	}
}

func (h *hookRunner) loop(ctx context.Context) {
	for {
		select {
		case ev := <-h.pending:
			h.run(ctx, ev)
		case <-ctx.Done():
			return
		}
	}
}

func (h *hookRunner) run(ctx context.Context, ev quorum.Event) {
	state, q := "inquorate", "0"
	if ev.Quorate {
		state, q = "quorate", "1"
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell[0], shell[1], h.cmd, "quorumwatch", state, ev.Ring.String(), list(ev.Members))
	cmd.Env = append(os.Environ(),
		"QUORUMWATCH_QUORATE="+q,
		"QUORUMWATCH_EVENT="+ev.Kind.String(),
		"QUORUMWATCH_RING_ID="+ev.Ring.String(),
		"QUORUMWATCH_MEMBERS="+list(ev.Members))
	if h.sim {
		cmd.Env = append(cmd.Env, "QUORUMWATCH_SIMULATED=1")
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	killGroupOnCancel(cmd)
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		h.out.note("hook (%s) killed after %v timeout", state, h.timeout)
	case err != nil && ctx.Err() == nil:
		h.out.note("hook (%s) failed after %v: %v", state, time.Since(start).Round(time.Millisecond), err)
	}
}
