package session

import (
	"context"
	"errors"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
	"github.com/corosync-go/corosync/transport"
)

// Probe learns the release of the daemon behind t, a fresh connection to
// the service whose request table is reqs, before anything else is sent on
// it. It may dial other services with d; it returns a lower bound (see
// corosync.Version).
type Probe func(ctx context.Context, d transport.Dialer, reqs *wire.Requests, t transport.Conn, b corosync.Backoff) (corosync.Version, error)

// A probe marker is a cmap key that a release line sets at startup and
// the lines before it never set. Reading a key (cmap GET, request 2) is
// defined by every corosync since 2.x; nothing else is sent.
const (
	// Set to 0 at startup by corosync 2.x only: 3.0 moved the IPC
	// connection counters to the stats map.
	marker2x = "runtime.connections.active"
	// The knet PMTUd interval, exported by totem's runtime config since
	// 2.99 (3.0) whatever the transport.
	marker3_0 = "runtime.config.totem.knet_pmtud_interval"
	// Exported since 3.1.6 (and by 2.4.6, which marker2x tells apart).
	// 3.1.0 to 3.1.5 export nothing 3.0.4 does not: they read as 3.0.
	marker3_1_6 = "runtime.config.totem.cancel_token_hold_on_retransmit"
)

// ProbeCmap is the default Probe: up to three cmap GETs, on t itself for
// the cmap service and otherwise on a cmap connection of its own, closed
// before it returns.
//
//   - runtime.connections.active exists: corosync 2.x (2.4);
//   - runtime.config.totem.knet_pmtud_interval is missing: 2.x as well;
//   - runtime.config.totem.cancel_token_hold_on_retransmit exists: 3.1.6
//     or later, else 3.0.
//
// runtime.* keys are read-only to clients, so no client can fake them.
//
// On a 3.1.6 daemon, a service whose table has requests only corosync's
// main branch defines (reqs.NeedsMain) asks one more question, on a cpg
// connection of its own (ProbeMain), and reads corosync.VersionMain when
// the daemon is main.
func ProbeCmap(ctx context.Context, d transport.Dialer, reqs *wire.Requests, t transport.Conn, b corosync.Backoff) (corosync.Version, error) {
	v, err := probeRelease(ctx, d, reqs.Service, t, b)
	if err != nil || v != corosync.Version3_1_6 || !reqs.NeedsMain() {
		return v, err
	}
	main, err := ProbeMain(ctx, d, b)
	switch {
	case err != nil && ctx.Err() != nil:
		return v, err
	case err != nil || !main:
		// A daemon the question could not be put to (cpg refused, or
		// still in sync after probeMainWait) is taken for a release: the
		// safe reading, which only holds back main-only requests until
		// the next connect.
		return v, nil
	}
	return corosync.VersionMain, nil
}

func probeRelease(ctx context.Context, d transport.Dialer, service string, t transport.Conn, b corosync.Backoff) (corosync.Version, error) {
	pt := t
	if service != "cmap" {
		c, err := d.Dial(ctx, "cmap")
		if err != nil {
			return corosync.Version{}, wrapOp("dial cmap (learning the daemon's release)", err)
		}
		defer c.Close()
		pt = c
	}
	conn := &Conn{t: pt, reqs: cmapwire.Requests, ver: wire.Baseline, backoff: b}
	var buf []byte
	has := func(key string) (bool, error) {
		req, err := cmapwire.AppendGetSize(buf[:0], key)
		if err != nil {
			return false, err
		}
		out, err := conn.Call(ctx, "cmap get "+key+" (learning the daemon's release)", req, cmapwire.ResGet, buf[:0])
		buf = out[:0]
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, corosync.ErrNotExist):
			return false, nil
		}
		return false, err
	}
	if ok, err := has(marker2x); err != nil || ok {
		return corosync.Version2_4, err
	}
	if ok, err := has(marker3_0); err != nil || !ok {
		return corosync.Version2_4, err
	}
	ok, err := has(marker3_1_6)
	if err != nil {
		return corosync.Version{}, err
	}
	if ok {
		return corosync.Version3_1_6, nil
	}
	return corosync.Version3_0, nil
}

// probeMainWait bounds how long ProbeMain asks again after TRY_AGAIN
// answers. ZC_FREE is flow-controlled: the daemon answers TRY_AGAIN while
// totem's queue is full or a membership sync runs (which waits up to
// quorum.device.sync_timeout for a quorum device's poll). A release's own
// answer leaves its error field unset, which could read as TRY_AGAIN every
// time (no build of the matrix does: TestSafetyEveryDaemon measures it);
// after probeMainWait the daemon is taken for a release, the safe reading.
var probeMainWait = 5 * time.Second

// ProbeMain tells corosync's main branch from every release: it sends
// cpg's ZC_FREE (request 10, defined by every corosync since 2.x) for
// address 0 on a cpg connection of its own, closed before it returns.
//
//   - A release looks the address up among the zero-copy buffers of that
//     connection, which has none, frees nothing, and answers with id 0.
//   - main retired zero-copy: ids 9-11 answer MESSAGE_RES_CPG_NULL (14)
//     with CS_ERR_NOT_SUPPORTED and do nothing else.
//
// Nothing else is sent, and the connection never joins a group.
func ProbeMain(ctx context.Context, d transport.Dialer, b corosync.Backoff) (bool, error) {
	const op = "cpg zc_free of nothing (telling corosync main from 3.1.x)"
	t, err := d.Dial(ctx, "cpg")
	if err != nil {
		return false, wrapOp("dial cpg (telling corosync main from 3.1.x)", err)
	}
	defer t.Close()
	conn := &Conn{t: t, reqs: cpgwire.Requests, ver: corosync.Version3_1_6, backoff: b}
	req := cpgwire.AppendMainProbe(nil)
	if err := conn.check(op, req); err != nil {
		return false, err
	}
	var buf []byte
	deadline := time.Now().Add(probeMainWait)
	for attempt := 0; ; attempt++ {
		out, err := t.Request(ctx, req, buf[:0])
		if err != nil {
			return false, conn.fail(op, err)
		}
		main, tryAgain, err := cpgwire.DecodeMainProbe(out)
		if err != nil {
			return false, corosync.NewError(op, corosync.ErrMessageError, err)
		}
		wait := b.Delay(attempt)
		if !tryAgain || time.Now().Add(wait).After(deadline) {
			return main, nil
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return false, corosync.NewError(op, corosync.ErrTryAgain, err)
		}
		buf = out
	}
}

// Fixed returns a Probe that sends nothing and reports v, for tests with
// fake daemons.
func Fixed(v corosync.Version) Probe {
	return func(context.Context, transport.Dialer, *wire.Requests, transport.Conn, corosync.Backoff) (corosync.Version, error) {
		return v, nil
	}
}
