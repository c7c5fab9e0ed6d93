package cpgwire

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire/corpus"
	"github.com/corosync-go/corosync/transport"
)

// Real-daemon helpers for TestDaemonTraits. Run as root:
//
//	go test -count=1 -run TestDaemonTraits -v ./internal/wire/cpgwire/
//
// With CPGWIRE_WRITE_SEEDS=1 the captured messages are (re)written as fuzz
// seeds under testdata/fuzz.
const envWriteSeeds = "CPGWIRE_WRITE_SEEDS"

var (
	seedMu sync.Mutex
	seeded = map[string]bool{}
)

// capture logs b and, with CPGWIRE_WRITE_SEEDS=1, stores it as a seed of
// fuzz target target (once per name). req is the request id a response
// answers (ignored for other targets).
func capture(t testing.TB, target, name string, b []byte, req int32) {
	t.Helper()
	shown := b
	if len(shown) > 512 {
		shown = shown[:512]
	}
	t.Logf("captured %s/%s (%d bytes): %s", target, name, len(b), hex.EncodeToString(shown))
	if os.Getenv(envWriteSeeds) == "" {
		return
	}
	seedMu.Lock()
	defer seedMu.Unlock()
	if seeded[target+"/"+name] {
		return
	}
	seeded[target+"/"+name] = true
	if target == "FuzzDecodeResponse" {
		corpus.Write(t, target, name, b, req)
		return
	}
	corpus.Write(t, target, name, b)
}

// conn is one raw cpg connection to a node's daemon.
type conn struct {
	t    testing.TB
	n    *corotest.Node
	name string
	c    *transport.IPCConn
	// lastRaw is a copy of the last event read.
	lastRaw []byte
}

func dialCPG(t testing.TB, n *corotest.Node, name string) *conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, "cpg", transport.Config{NetNS: n.NetNSPath()})
	if err != nil {
		t.Fatalf("dial cpg on node %d: %v", n.ID, err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, n: n, name: name, c: c}
}

func mustEncode(t testing.TB, r Request) []byte {
	t.Helper()
	b, err := AppendRequest(nil, r)
	if err != nil {
		t.Fatalf("encode %s: %v", RequestName(r.ID), err)
	}
	return b
}

// raw sends req and returns a copy of the answer.
func (c *conn) raw(req []byte, d time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := c.c.Request(ctx, req, nil)
	return slices.Clone(out), err
}

// do sends r, captures request and answer as seed (if not ""), decodes.
func (c *conn) do(r Request, seed string) Response {
	c.t.Helper()
	req := mustEncode(c.t, r)
	b, err := c.raw(req, 30*time.Second)
	if err != nil {
		c.t.Fatalf("%s: %s: %v", c.name, RequestName(r.ID), err)
	}
	if seed != "" {
		capture(c.t, "FuzzDecodeRequest", seed, req, 0)
		capture(c.t, "FuzzDecodeResponse", seed, b, r.ID)
	}
	resp, err := DecodeResponse(b, r.ID)
	if err != nil {
		c.t.Fatalf("%s: decode answer to %s: %v\n%s", c.name, RequestName(r.ID), err, hex.Dump(b))
	}
	return resp
}

func (c *conn) code(r Request) corosync.Error {
	c.t.Helper()
	return c.do(r, "").Error
}

func (c *conn) join(g Name, pid, flags uint32) corosync.Error {
	c.t.Helper()
	return c.code(Request{ID: ReqJoin, Group: g, PID: pid, Flags: flags})
}

// mcast sends an MCAST and waits d for an answer; it returns the answer, or
// the transport's error (corosync.ErrTimeout when none came). After a
// timeout the connection takes no more requests (its request lock waits for
// the answer in the background) but still reads events.
func (c *conn) mcast(payload []byte, d time.Duration) ([]byte, error) {
	c.t.Helper()
	req := mustEncode(c.t, Request{ID: ReqMcast, Guarantee: GuaranteeAgreed, Payload: payload})
	capture(c.t, "FuzzDecodeRequest", "mcast", req, 0)
	return c.raw(req, d)
}

// partial sends one PARTIAL_MCAST, retrying while the daemon answers
// TRY_AGAIN, and returns the final code.
func (c *conn) partial(typ PartialType, msglen uint32, frag []byte) (corosync.Error, error) {
	req := mustEncode(c.t, Request{ID: ReqPartialMcast, Guarantee: GuaranteeAgreed, MsgLen: msglen, Type: typ, Payload: frag})
	for i := 0; ; i++ {
		b, err := c.raw(req, 30*time.Second)
		if err != nil {
			return 0, err
		}
		r, err := DecodeResponse(b, ReqPartialMcast)
		if err != nil {
			return 0, err
		}
		if r.Error != corosync.ErrTryAgain || i > 500 {
			return r.Error, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// event reads the next event within d, captured as seed (if not "").
func (c *conn) event(d time.Duration, seed string) (Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b, err := c.c.ReadEvent(ctx)
	if err != nil {
		return Event{}, err
	}
	if seed != "" {
		capture(c.t, "FuzzDecodeEvent", seed, b, 0)
	}
	c.lastRaw = slices.Clone(b)
	e, err := DecodeEvent(b)
	if err != nil {
		return e, fmt.Errorf("%s: %w\n%s", c.name, err, hex.Dump(b))
	}
	// The payload aliases the transport's buffer: keep a copy.
	e.Payload = slices.Clone(e.Payload)
	return e, nil
}

// want reads events until one satisfies ok (others are logged and
// skipped), within d.
func (c *conn) want(d time.Duration, seed, what string, ok func(Event) bool) Event {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		e, err := c.event(time.Until(deadline), "")
		if err != nil {
			c.t.Fatalf("%s: waiting for %s: %v", c.name, what, err)
		}
		if ok(e) {
			if seed != "" {
				capture(c.t, "FuzzDecodeEvent", seed, c.lastRaw, 0)
			}
			return e
		}
		c.t.Logf("%s: skipped %v while waiting for %s", c.name, e, what)
	}
}

// none checks that no event satisfying bad arrives within d.
func (c *conn) none(d time.Duration, what string, bad func(Event) bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		e, err := c.event(time.Until(deadline), "")
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, corosync.ErrTimeout) {
			return
		}
		if err != nil {
			c.t.Fatalf("%s: %v", c.name, err)
		}
		if bad(e) {
			c.t.Fatalf("%s: unexpected %s: %v", c.name, what, e)
		}
	}
}

func isConfchg(g Name) func(Event) bool {
	return func(e Event) bool { return e.ID == EvConfchg && e.Group == g }
}

func isDeliver(pid uint32) func(Event) bool {
	return func(e Event) bool { return (e.ID == EvDeliver || e.ID == EvPartialDeliver) && e.PID == pid }
}

func expect(t testing.TB, what string, got, want corosync.Error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %s, want %s", what, got.Name(), want.Name())
	} else {
		t.Logf("%s -> %s", what, got.Name())
	}
}
