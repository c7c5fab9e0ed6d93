package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

// Requests the daemon may not define fail with ErrNotSupported, naming the
// request and the release it needs, and nothing reaches the connection.
func TestGateRefusesBeforeSending(t *testing.T) {
	c := newFakeConn(respMsg(1, corosync.OK), respMsg(2, corosync.OK))
	s, err := Dial(context.Background(), testReqs, &svc{}, opts(&fakeDialer{conns: []*fakeConn{c}}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := s.DaemonVersion(); v != corosync.Version3_0 {
		t.Fatalf("DaemonVersion = %v, want 3.0", v)
	}
	conn, err := s.Current()
	if err != nil {
		t.Fatal(err)
	}
	if !conn.Supports(5) || conn.Supports(6) || conn.Supports(7) || conn.Supports(8) || conn.Supports(-1) {
		t.Fatal("Supports disagrees with the table")
	}
	sent := func() int { c.mu.Lock(); defer c.mu.Unlock(); return c.reqs }
	before := sent()
	for _, tc := range []struct {
		id   int32
		want string
	}{
		{6, "test NEW (request 6) needs corosync 3.1.6 or later; the daemon showed only what corosync 3.0 has"},
		{7, "test request id 7 is not one this client sends"},
		{99, "test request id 99 is not one this client sends"},
	} {
		_, err := s.Call(context.Background(), "test op", reqMsg(tc.id), tc.id, nil)
		if !errors.Is(err, corosync.ErrNotSupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Call(%d) = %v, want ErrNotSupported saying %q", tc.id, err, tc.want)
		}
		if err := s.Send(context.Background(), "test op", reqMsg(tc.id)); !errors.Is(err, corosync.ErrNotSupported) {
			t.Errorf("Send(%d) = %v, want ErrNotSupported", tc.id, err)
		}
	}
	if _, err := s.Call(context.Background(), "test op", []byte{1, 2}, 0, nil); !errors.Is(err, corosync.ErrNotSupported) {
		t.Errorf("a message without a header: %v, want ErrNotSupported", err)
	}
	if n := sent(); n != before {
		t.Fatalf("%d refused requests reached the connection", n-before)
	}
	if _, err := s.Call(context.Background(), "test op", reqMsg(2), 2, nil); err != nil {
		t.Fatalf("a defined request: %v", err)
	}
}

// cmapDaemon is a fake cmap connection holding some keys: it answers GETs
// and counts every request by id.
type cmapDaemon struct {
	keys   map[string]bool
	byID   map[int32]int
	closed bool
}

func (d *cmapDaemon) Request(ctx context.Context, req, resp []byte, _ ...transport.RequestOption) ([]byte, error) {
	r, err := cmapwire.DecodeRequest(req)
	if err != nil {
		return resp[:0], err
	}
	d.byID[r.ID]++
	if r.ID != cmapwire.ReqGet {
		return cmapwire.AppendReject(resp[:0], corosync.ErrInvalidParam), nil
	}
	if !d.keys[r.Key] {
		return cmapwire.AppendStatus(resp[:0], cmapwire.ResGet, corosync.ErrNotExist), nil
	}
	return cmapwire.AppendGetResponse(resp[:0], 0, corosync.OK, cmapwire.Uint32(1))
}
func (d *cmapDaemon) Send(context.Context, []byte) error { return errors.New("unexpected send") }
func (d *cmapDaemon) ReadEvent(ctx context.Context) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (d *cmapDaemon) Close() error { d.closed = true; return nil }

type cmapDialer struct {
	d   *cmapDaemon
	cpg *cpgProbeDaemon // nil: dialling cpg fails the test
}

func (cd cmapDialer) Dial(_ context.Context, service string) (transport.Conn, error) {
	if service == "cpg" && cd.cpg != nil {
		cd.cpg.dials++
		return cd.cpg, nil
	}
	if service != "cmap" {
		return nil, errors.New("the probe dialled " + service)
	}
	return cd.d, nil
}

// The probe tells each release line by the keys it has, sends only cmap
// GETs, and closes the connection it opened.
func TestProbeCmap(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		want corosync.Version
		gets int
	}{
		{"2.4.6", []string{marker2x, marker3_1_6}, corosync.Version2_4, 1},
		{"2.3", []string{marker2x}, corosync.Version2_4, 1},
		{"2.x without the counter", nil, corosync.Version2_4, 2},
		{"3.0.4", []string{marker3_0}, corosync.Version3_0, 3},
		{"3.1.10", []string{marker3_0, marker3_1_6}, corosync.Version3_1_6, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &cmapDaemon{keys: map[string]bool{}, byID: map[int32]int{}}
			for _, k := range tc.keys {
				d.keys[k] = true
			}
			v, err := ProbeCmap(context.Background(), cmapDialer{d: d}, quorumReqs, nil, corosync.DefaultBackoff)
			if err != nil || v != tc.want {
				t.Fatalf("ProbeCmap = %v, %v; want %v", v, err, tc.want)
			}
			if len(d.byID) != 1 || d.byID[cmapwire.ReqGet] != tc.gets {
				t.Fatalf("requests sent by id: %v, want %d GETs only", d.byID, tc.gets)
			}
			if !d.closed {
				t.Fatal("the probe's cmap connection was left open")
			}
		})
	}
	// On the cmap service the probe uses the service's own connection.
	d := &cmapDaemon{keys: map[string]bool{marker3_0: true}, byID: map[int32]int{}}
	v, err := ProbeCmap(context.Background(), cmapDialer{}, cmapwire.Requests, d, corosync.DefaultBackoff)
	if err != nil || v != corosync.Version3_0 || d.closed {
		t.Fatalf("probe on cmap's own connection: %v, %v, closed %v", v, err, d.closed)
	}
}

// A probe failure fails the dial with the probe's error and leaves nothing
// open.
func TestProbeFailureFailsDial(t *testing.T) {
	c := newFakeConn()
	o := opts(&fakeDialer{conns: []*fakeConn{c}})
	o.Probe = func(context.Context, transport.Dialer, *wire.Requests, transport.Conn, corosync.Backoff) (corosync.Version, error) {
		return corosync.Version{}, corosync.NewError("probe", corosync.ErrAccess, nil)
	}
	if _, err := Dial(context.Background(), testReqs, &svc{}, o); !errors.Is(err, corosync.ErrAccess) {
		t.Fatalf("Dial = %v, want the probe's ErrAccess", err)
	}
	select {
	case <-c.closed:
	default:
		t.Fatal("the service connection was left open")
	}
}

// tryAgainThenStall answers TRY_AGAIN once, then holds every request until
// its ctx ends: the deadline lands on an attempt, not on the backoff.
type tryAgainThenStall struct{ fakeConn }

func (f *tryAgainThenStall) Request(ctx context.Context, req, resp []byte, _ ...transport.RequestOption) ([]byte, error) {
	f.mu.Lock()
	f.reqs++
	n := f.reqs
	f.mu.Unlock()
	if n == 1 {
		return append(resp[:0], respMsg(0, corosync.ErrTryAgain)...), nil
	}
	<-ctx.Done()
	return resp[:0], transport.CtxError("fake request", ctx.Err())
}

// A call whose daemon kept answering TRY_AGAIN until ctx ended fails with
// ErrTryAgain and the ctx's error, also when the deadline lands on an
// attempt (a race that failed quorum's TestTryAgain 13 times in 300).
func TestCallTryAgainUntilDeadline(t *testing.T) {
	f := &tryAgainThenStall{fakeConn: *newFakeConn()}
	c := &Conn{t: f, reqs: testReqs, ver: corosync.Version3_0, backoff: corosync.Backoff{Initial: time.Millisecond, Max: time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, "test op", reqMsg(2), 2, nil)
	if !errors.Is(err, corosync.ErrTryAgain) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call = %v, want ErrTryAgain and DeadlineExceeded", err)
	}
}

var quorumReqs = &wire.Requests{Service: "quorum", ByID: []wire.RequestInfo{{Name: "GETQUORATE", Since: corosync.Version2_4}}}

// mainReqs is a table with a request only corosync main defines.
var mainReqs = &wire.Requests{Service: "votequorum", ByID: []wire.RequestInfo{
	{Name: "GETINFO", Since: corosync.Version2_4},
	{Name: "EXTRA", Since: wire.Unreleased},
}}

// cpgProbeDaemon answers cpg's ZC_FREE as a daemon does: main with
// MESSAGE_RES_CPG_NULL and NOT_SUPPORTED, a release with id 0 and whatever
// its stack held in the error field (code).
type cpgProbeDaemon struct {
	main     bool
	code     corosync.Error
	tryAgain int // answer the first ones with the daemon's TRY_AGAIN (sync)
	dials    int
	reqs     int
	bad      []string
	closed   bool
}

func (d *cpgProbeDaemon) Request(_ context.Context, req, resp []byte, _ ...transport.RequestOption) ([]byte, error) {
	d.reqs++
	if r, err := cpgwire.DecodeRequest(req); err != nil || r.ID != cpgwire.ReqZCFree || r.ServerAddr != 0 || r.MapSize != 0 || len(req) != cpgwire.ZCFreeRequestSize {
		d.bad = append(d.bad, fmt.Sprintf("%+v (%v, %d bytes)", r, err, len(req)))
	}
	if d.reqs <= d.tryAgain {
		return wire.AppendReject(resp[:0], corosync.ErrTryAgain), nil
	}
	return cpgwire.AppendMainProbeAnswer(resp[:0], d.main, d.code), nil
}
func (d *cpgProbeDaemon) Send(context.Context, []byte) error { return errors.New("unexpected send") }
func (d *cpgProbeDaemon) ReadEvent(ctx context.Context) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (d *cpgProbeDaemon) Close() error { d.closed = true; return nil }

// On a 3.1.6 daemon, a table with main-only requests asks cpg one more
// question, and only that one: ZC_FREE of address 0. A release's answer
// leaves the error field unset; whatever it holds, the daemon is never
// taken for main, and a TRY_AGAIN there is asked again a bounded number of
// times. Tables without such requests, and older daemons, never dial cpg.
func TestProbeMain(t *testing.T) {
	defer func(w time.Duration) { probeMainWait = w }(probeMainWait)
	probeMainWait = 30 * time.Millisecond
	for _, tc := range []struct {
		name  string
		keys  []string
		reqs  *wire.Requests
		cpg   cpgProbeDaemon
		want  corosync.Version
		asked int
	}{
		{"main", []string{marker3_0, marker3_1_6}, mainReqs, cpgProbeDaemon{main: true}, corosync.VersionMain, 1},
		{"3.1.10", []string{marker3_0, marker3_1_6}, mainReqs, cpgProbeDaemon{code: corosync.OK}, corosync.Version3_1_6, 1},
		{"3.1.10 with garbage", []string{marker3_0, marker3_1_6}, mainReqs, cpgProbeDaemon{code: 0x7f3a}, corosync.Version3_1_6, 1},
		{"3.1.10 reading TRY_AGAIN", []string{marker3_0, marker3_1_6}, mainReqs, cpgProbeDaemon{code: corosync.ErrTryAgain}, corosync.Version3_1_6, -1},
		{"main in a long sync", []string{marker3_0, marker3_1_6}, mainReqs, cpgProbeDaemon{main: true, tryAgain: 1 << 30}, corosync.Version3_1_6, -1},
		{"main after a short sync", []string{marker3_0, marker3_1_6}, mainReqs, cpgProbeDaemon{main: true, tryAgain: 3}, corosync.VersionMain, 4},
		{"main, table without main requests", []string{marker3_0, marker3_1_6}, quorumReqs, cpgProbeDaemon{main: true}, corosync.Version3_1_6, 0},
		{"3.0.4", []string{marker3_0}, mainReqs, cpgProbeDaemon{main: true}, corosync.Version3_0, 0},
		{"2.4.6", []string{marker2x}, mainReqs, cpgProbeDaemon{main: true}, corosync.Version2_4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &cmapDaemon{keys: map[string]bool{}, byID: map[int32]int{}}
			for _, k := range tc.keys {
				d.keys[k] = true
			}
			cpg := tc.cpg
			b := corosync.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
			v, err := ProbeCmap(context.Background(), cmapDialer{d: d, cpg: &cpg}, tc.reqs, nil, b)
			if err != nil || v != tc.want {
				t.Fatalf("ProbeCmap = %v, %v; want %v", v, err, tc.want)
			}
			if tc.asked < 0 { // asked again until probeMainWait
				if cpg.reqs < 3 {
					t.Fatalf("cpg was asked %d times; TRY_AGAIN is asked again", cpg.reqs)
				}
				tc.asked = cpg.reqs
			}
			if cpg.reqs != tc.asked || len(cpg.bad) > 0 {
				t.Fatalf("cpg was asked %d times (want %d), wrong requests: %v", cpg.reqs, tc.asked, cpg.bad)
			}
			if cpg.dials > 0 && !cpg.closed {
				t.Fatal("the probe's cpg connection was left open")
			}
		})
	}
}

// The question cannot be put (cpg refuses the connection): the daemon is
// taken for a release and the dial goes on; only an ended ctx fails it.
func TestProbeMainUnanswered(t *testing.T) {
	d := &cmapDaemon{keys: map[string]bool{marker3_0: true, marker3_1_6: true}, byID: map[int32]int{}}
	v, err := ProbeCmap(context.Background(), cmapDialer{d: d}, mainReqs, nil, corosync.DefaultBackoff)
	if err != nil || v != corosync.Version3_1_6 {
		t.Fatalf("cpg refused: %v, %v; want 3.1.6 and no error", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d = &cmapDaemon{keys: map[string]bool{marker3_0: true, marker3_1_6: true}, byID: map[int32]int{}}
	if _, err := ProbeCmap(ctx, cmapDialer{d: d, cpg: &cpgProbeDaemon{main: true, tryAgain: 1 << 30}}, mainReqs, nil, corosync.DefaultBackoff); err == nil {
		t.Fatal("an ended ctx: no error")
	}
}

// An answer that pairs with neither a release's nor main's is an error
// that names the id.
func TestDecodeMainProbeRefusesOtherIDs(t *testing.T) {
	msg := wire.AppendReject(nil, corosync.OK)
	msg[0] = 15
	if _, _, err := cpgwire.DecodeMainProbe(msg); err == nil || !strings.Contains(err.Error(), "got 15") {
		t.Fatalf("DecodeMainProbe(id 15) = %v", err)
	}
}
