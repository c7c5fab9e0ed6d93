//go:build linux

package cmapwire

import (
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// TestDaemonSurvives sends every request kind with every boundary argument
// the encoders accept to a real corosync 3.1.7, on both maps, and checks
// after each that the daemon is the same process and still answers
// corosync-cmapctl. Whatever the encoders refuse (see
// TestDangerousRequestsRefused) is never sent.
func TestDaemonSurvives(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{TokenMS: 1000})
	node := c.Nodes[0]
	pid := node.Pid()
	// A schedmiss entry, so stats.schedmiss.* keys exist: stop the daemon
	// for longer than 0.8 token.
	syscall.Kill(pid, syscall.SIGSTOP)
	time.Sleep(1500 * time.Millisecond)
	syscall.Kill(pid, syscall.SIGCONT)

	r := dialRaw(t, node)
	n := 0
	send := func(what string, id int32, req []byte, err error) Response {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: encoder refused: %v", what, err)
		}
		b, err := r.send(req)
		if err != nil {
			t.Fatalf("%s: %v (daemon: %v)", what, err, alive(node, pid))
		}
		resp, err := DecodeResponse(b, id)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Rejected {
			t.Errorf("%s: generic reject", what)
		}
		if err := alive(node, pid); err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
		n++
		return resp
	}
	set := func(key string, v Value) Response {
		b, err := AppendSet(nil, key, v)
		return send("set "+key+" "+v.GoString(), ReqSet, b, err)
	}

	// Keys at the limits of the name rules.
	all := "a.b-c_d/e:F9" + strings.Repeat("z", 10)
	keys := []string{"zz1", all, strings.Repeat("k", MaxKeyLen)}
	vals := []Value{
		Int8(math.MinInt8), Int8(math.MaxInt8), Uint8(0), Uint8(math.MaxUint8),
		Int16(math.MinInt16), Int16(math.MaxInt16), Uint16(0), Uint16(math.MaxUint16),
		Int32(math.MinInt32), Int32(math.MaxInt32), Uint32(0), Uint32(math.MaxUint32),
		Int64(math.MinInt64), Int64(math.MaxInt64), Uint64(0), Uint64(math.MaxUint64),
		Float(float32(math.Inf(-1))), Float(float32(math.NaN())), Double(math.MaxFloat64), Double(math.Copysign(0, -1)),
		String(""), String(strings.Repeat("s", MaxStringLen)), Binary(nil), Binary(make([]byte, MaxValueLen)),
	}
	steps := []int32{math.MinInt32, -1, 0, 1, math.MaxInt32}
	for _, key := range keys {
		for _, v := range vals {
			if resp := set(key, v); resp.Error != corosync.OK {
				t.Errorf("set %s %#v: %v", key, v, resp.Error)
			}
			b, err := AppendGet(nil, key)
			got := send("get "+key, ReqGet, b, err)
			if got.Error != corosync.OK || !got.Value.Equal(v) {
				t.Errorf("get %s: %v %#v, want %#v", key, got.Error, got.Value, v)
			}
			// GETs offering the value's length, one byte less (refused:
			// icmap checks the buffer) and one byte (main map only).
			for _, n := range []uint64{uint64(max(v.Len(), 1)), uint64(v.Len()) - 1, 1} {
				b, err := AppendGetN(nil, key, n)
				if n == 0 || n > GetBufferSize {
					continue
				}
				got := send(fmt.Sprintf("get %s with %d bytes", key, n), ReqGet, b, err)
				switch {
				case n >= uint64(v.Len()) && (got.Error != corosync.OK || !got.Value.Equal(v)):
					t.Errorf("get %s with %d bytes: %v %#v, want %#v", key, n, got.Error, got.Value, v)
				case n < uint64(v.Len()) && got.Error != corosync.ErrInvalidParam:
					t.Errorf("get %s with %d bytes of %d: %v, want CS_ERR_INVALID_PARAM", key, n, v.Len(), got.Error)
				}
			}
			b, err = AppendGetSize(nil, key)
			if got := send("size "+key, ReqGet, b, err); got.ValueLen != uint64(v.Len()) || got.Type != v.Type() {
				t.Errorf("size %s: %d %v", key, got.ValueLen, got.Type)
			}
			for _, s := range steps {
				b, err := AppendAdjust(nil, key, s)
				send("adjust "+key, ReqAdjustInt, b, err)
			}
		}
		b, err := AppendDelete(nil, key)
		send("delete "+key, ReqDelete, b, err)
		b, err = AppendDelete(nil, key)
		send("delete missing "+key, ReqDelete, b, err)
	}
	// Read-only, runtime and missing keys.
	for _, key := range []string{"totem.cluster_name", "nodelist.local_node_pos", "runtime.config.totem.token", "no.such.key"} {
		b, err := AppendGet(nil, key)
		send("get "+key, ReqGet, b, err)
		b, err = AppendAdjust(nil, key, 1)
		send("inc "+key, ReqAdjustInt, b, err)
		b, err = AppendDelete(nil, key)
		send("delete "+key, ReqDelete, b, err)
		set(key, Uint32(1))
	}

	// Iteration at the limits, with the ITER_NEXT right after the ITER_INIT.
	iterate := func(prefix string, getEach bool) []string {
		b, err := AppendIterInit(nil, prefix)
		it := send("iter_init "+prefix, ReqIterInit, b, err)
		var got []string
		for {
			resp := send("iter_next", ReqIterNext, AppendIterNext(nil, it.Handle), nil)
			if resp.Error != corosync.OK {
				send("iter_next past the end", ReqIterNext, AppendIterNext(nil, it.Handle), nil)
				break
			}
			got = append(got, resp.Key)
		}
		send("iter_finalize", ReqIterFinalize, AppendIterFinalize(nil, it.Handle), nil)
		send("iter_finalize again", ReqIterFinalize, AppendIterFinalize(nil, it.Handle), nil)
		if getEach {
			for _, k := range got {
				b, err := AppendGet(nil, k)
				send("get "+k, ReqGet, b, err)
			}
		}
		return got
	}
	for _, p := range []string{"a", strings.Repeat("p", MaxKeyLen), "totem."} {
		iterate(p, false)
	}
	if got := iterate("", true); len(got) < 20 {
		t.Errorf("only %d keys in icmap", len(got))
	}
	for _, h := range []uint64{0, 1, math.MaxUint64} {
		send("iter_next bogus", ReqIterNext, AppendIterNext(nil, h), nil)
		send("iter_finalize bogus", ReqIterFinalize, AppendIterFinalize(nil, h), nil)
		send("track_delete bogus", ReqTrackDelete, AppendTrackDelete(nil, h), nil)
	}

	// Tracking with every accepted flag combination.
	track := func(key string) {
		for f := TrackFlags(1); f <= trackAll; f++ {
			b, err := AppendTrackAdd(nil, key, f, uint64(f)<<32|math.MaxUint32)
			if err != nil {
				continue // refused combinations are tested elsewhere
			}
			tr := send("track_add "+key+" "+f.String(), ReqTrackAdd, b, nil)
			if f == TrackModify|TrackPrefix {
				defer func() {
					send("track_delete", ReqTrackDelete, AppendTrackDelete(nil, tr.Handle), nil)
				}()
				continue // kept until the end of track
			}
			if tr.Error == corosync.OK {
				send("track_delete", ReqTrackDelete, AppendTrackDelete(nil, tr.Handle), nil)
			}
		}
	}
	track("zz1")
	track(strings.Repeat("t", MaxKeyLen))
	set("zz1", Uint8(1)) // fires the add|modify|prefix tracker of "zz1" (deleted below)
	b, err := AppendSetCurrentMap(nil, MapStats)
	send("set_current_map while tracking", ReqSetCurrentMap, b, err)

	// The stats map, on a connection of its own.
	r = dialRaw(t, node)
	b, err = AppendSetCurrentMap(nil, MapStats)
	send("set_current_map stats", ReqSetCurrentMap, b, err)
	statsKeys := iterate("", true) // GET of every stats key, schedmiss included
	var haveSchedmiss, haveProcname bool
	for _, k := range statsKeys {
		haveSchedmiss = haveSchedmiss || strings.HasPrefix(k, "stats.schedmiss.")
		haveProcname = haveProcname || strings.HasSuffix(k, ".procname")
	}
	if !haveSchedmiss || !haveProcname {
		t.Errorf("stats keys lack schedmiss (%v) or procname (%v) entries", haveSchedmiss, haveProcname)
	}
	for _, k := range []string{"stats.srp.orf_token_tx", "stats.ipcs.global.active", "stats.schedmiss.0.delay"} {
		set(k, Uint64(0))
		b, err := AppendAdjust(nil, k, 1)
		send("inc "+k, ReqAdjustInt, b, err)
		b, err = AppendDelete(nil, k)
		send("delete "+k, ReqDelete, b, err)
	}
	for _, w := range []string{"knet", "ipc", "totem", "schedmiss", "all", "bogus"} {
		set("stats.clear."+w, Uint32(1))
	}
	// Trackers on stats: prefix trackers, and exact trackers on every
	// numeric key, polled by the daemon every 1.5 s.
	var handles []uint64
	for _, k := range statsKeys {
		b, err := AppendTrackAdd(nil, k, TrackModify, 1)
		if err != nil {
			continue // string stats keys are refused
		}
		handles = append(handles, send("track_add "+k, ReqTrackAdd, b, nil).Handle)
	}
	for _, f := range []TrackFlags{TrackAdd | TrackDelete | TrackPrefix, TrackAdd | TrackPrefix, TrackAdd | TrackDelete | TrackModify | TrackPrefix} {
		b, err := AppendTrackAdd(nil, "stats.", f, 2)
		handles = append(handles, send("track_add stats. "+f.String(), ReqTrackAdd, b, err).Handle)
	}
	// New IPC connections make stats keys appear and disappear.
	r2 := dialRaw(t, node)
	r2.c.Close()
	time.Sleep(3500 * time.Millisecond) // two polls of the stats trackers
	if err := alive(node, pid); err != nil {
		t.Fatalf("after stats tracker polls: %v", err)
	}
	for _, h := range handles {
		send("track_delete", ReqTrackDelete, AppendTrackDelete(nil, h), nil)
	}
	b, err = AppendSetCurrentMap(nil, MapICMap)
	send("set_current_map icmap", ReqSetCurrentMap, b, err)
	b, err = AppendGet(nil, "totem.cluster_name")
	if resp := send("get after map switch", ReqGet, b, err); resp.Error != corosync.OK {
		t.Errorf("get after map switch: %v", resp.Error)
	}
	t.Logf("%d requests, %d stats keys; daemon pid %d alive", n, len(statsKeys), pid)
}
