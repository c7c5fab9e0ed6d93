//go:build linux && cmapprobe

// Probes of a real corosync 3.1.7, run by hand to measure SPEC.md:
//
//	go test -tags cmapprobe -run TestProbe -v ./internal/wire/cmapwire/
//
// Some of them may crash the daemon of their throwaway cluster; they are
// kept out of the regular suite by the build tag.

package cmapwire

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/corpus"
)

// rawReq builds a request by hand, bypassing the encoders' checks.
func rawReq(id int32, size int, fill func(b []byte)) []byte {
	b := make([]byte, size)
	fill(b)
	wire.PutRequestHeader(b, id)
	return b
}

func rawName(b []byte, name string) {
	le.PutUint16(b[0:], uint16(len(name)))
	copy(b[8:], name)
}

func TestProbeAnswers(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{})
	node := c.Nodes[0]
	pid := node.Pid()
	r := dialRaw(t, node)
	log := func(what string, id int32, req []byte) Response {
		t.Helper()
		resp, b := r.call(id, req)
		val := resp.Value.GoString()
		if len(val) > 60 {
			val = val[:60] + "..."
		}
		t.Logf("%-45s -> id %d size %d %v rejected=%v handle=%#x cookie=%#x key=%q type=%v len=%d value=%s",
			what, resp.ID, resp.Size, resp.Error, resp.Rejected, resp.Handle, resp.Cookie, resp.Key, resp.Type, resp.ValueLen, val)
		if err := alive(node, pid); err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
		_ = b
		return resp
	}
	get := func(key string) []byte { return ok(AppendGet(nil, key)) }
	set := func(key string, v Value) []byte { return ok(AppendSet(nil, key, v)) }

	// Captures for the fuzz seeds.
	// Seeds use libcmap's typed-getter buffer of 16 bytes (56-byte answers).
	get16 := func(key string, n uint64) []byte {
		return rawReq(ReqGet, 288, func(b []byte) { rawName(b[16:], key); le.PutUint64(b[280:], n) })
	}
	_, b := r.call(ReqGet, get16("totem.cluster_name", 16))
	capture(t, "FuzzDecodeResponse", "get_string", b, ReqGet)
	t.Logf("get totem.cluster_name: %s", hexdump(b))
	_, b = r.call(ReqGet, get16("runtime.votequorum.this_node_id", 16))
	capture(t, "FuzzDecodeResponse", "get_u32", b, ReqGet)
	_, b = r.call(ReqGet, get("no.such.key"))
	capture(t, "FuzzDecodeResponse", "get_missing", b, ReqGet)
	t.Logf("get missing: %s", hexdump(b))
	sz := ok(AppendGetSize(nil, "totem.cluster_name"))
	_, b = r.call(ReqGet, sz)
	capture(t, "FuzzDecodeResponse", "get_size", b, ReqGet)
	capture(t, "FuzzDecodeRequest", "get_size", sz)
	t.Logf("size query: %s", hexdump(b))

	log("get missing key", ReqGet, get("no.such.key"))
	log("get key with bad char (raw)", ReqGet, rawReq(ReqGet, 288, func(b []byte) { rawName(b[16:], "bad key!"); le.PutUint64(b[280:], GetBufferSize) }))
	log("get 255-char key", ReqGet, get(strings.Repeat("k", 255)))
	log("get small buffer icmap (raw len 3)", ReqGet, rawReq(ReqGet, 288, func(b []byte) { rawName(b[16:], "totem.cluster_name"); le.PutUint64(b[280:], 3) }))

	log("set new key bad char (raw)", ReqSet, rawReq(ReqSet, 300, func(b []byte) { rawName(b[16:], "bad key!"); le.PutUint64(b[280:], 4); b[288] = 6 }))
	log("set new 2-char key (raw)", ReqSet, rawReq(ReqSet, 300, func(b []byte) { rawName(b[16:], "ab"); le.PutUint64(b[280:], 4); b[288] = 6 }))
	log("set new 255-char key", ReqSet, set(strings.Repeat("k", 255), Uint32(1)))
	log("set 256-char key, no NUL (raw)", ReqSet, rawReq(ReqSet, 300, func(b []byte) {
		le.PutUint16(b[16:], 256)
		copy(b[24:], strings.Repeat("k", 256))
		le.PutUint64(b[280:], 4)
		b[288] = 6
	}))
	log("set binary 16384", ReqSet, set("test.bin", Binary(make([]byte, 16384))))
	log("set binary 16385 (raw)", ReqSet, rawReq(ReqSet, 296+16385, func(b []byte) { rawName(b[16:], "test.bin2"); le.PutUint64(b[280:], 16385); b[288] = 12 }))
	log("set string 16383+NUL", ReqSet, set("test.str", String(strings.Repeat("s", 16383))))
	r2 := log("get string 16383+NUL", ReqGet, get("test.str"))
	if r2.ValueLen != 16384 {
		t.Errorf("stored string length %d", r2.ValueLen)
	}
	log("set string 16384 no NUL (raw)", ReqSet, rawReq(ReqSet, 296+16384+8, func(b []byte) {
		rawName(b[16:], "test.str2")
		le.PutUint64(b[280:], 16384)
		b[288] = 11
		copy(b[296:], strings.Repeat("s", 16384))
	}))
	log("get string 16384 (len 16385 stored?)", ReqGet, get("test.str2"))
	log("set u32 with len 2 (raw)", ReqSet, rawReq(ReqSet, 298, func(b []byte) { rawName(b[16:], "test.u32"); le.PutUint64(b[280:], 2); b[288] = 6 }))
	log("set type 0 len 0 (raw)", ReqSet, rawReq(ReqSet, 296, func(b []byte) { rawName(b[16:], "test.type0"); b[288] = 0 }))
	log("get type 0 key", ReqGet, get("test.type0"))
	log("set type 13 len 0 (raw)", ReqSet, rawReq(ReqSet, 296, func(b []byte) { rawName(b[16:], "test.type13"); b[288] = 13 }))
	log("set string embedded NUL (raw)", ReqSet, rawReq(ReqSet, 296+4, func(b []byte) {
		rawName(b[16:], "test.nul")
		le.PutUint64(b[280:], 4)
		b[288] = 11
		copy(b[296:], "a\x00bc")
	}))
	log("set test.u32 u32", ReqSet, set("test.u32", Uint32(7)))
	b = ok(AppendSet(nil, "test.u32", Uint32(7)))
	capture(t, "FuzzDecodeRequest", "set_u32", b)
	log("set test.u32 as str (type change)", ReqSet, set("test.u32", String("x")))
	log("get test.u32", ReqGet, get("test.u32"))
	log("inc on string", ReqAdjustInt, ok(AppendAdjust(nil, "test.u32", 1)))
	log("set test.u8 255", ReqSet, set("test.u8", Uint8(255)))
	b = ok(AppendAdjust(nil, "test.u8", 1))
	capture(t, "FuzzDecodeRequest", "inc", b)
	log("inc u8 255", ReqAdjustInt, b)
	log("get test.u8", ReqGet, get("test.u8"))
	log("adjust u8 by 1000", ReqAdjustInt, ok(AppendAdjust(nil, "test.u8", 1000)))
	log("get test.u8", ReqGet, get("test.u8"))
	log("set test.flt", ReqSet, set("test.flt", Float(1.5)))
	log("inc on float", ReqAdjustInt, ok(AppendAdjust(nil, "test.flt", 1)))
	log("inc missing", ReqAdjustInt, ok(AppendAdjust(nil, "no.such.key", 1)))
	log("delete RO key totem.cluster_name", ReqDelete, ok(AppendDelete(nil, "totem.cluster_name")))
	log("delete missing", ReqDelete, ok(AppendDelete(nil, "no.such.key")))
	log("delete test.u8", ReqDelete, ok(AppendDelete(nil, "test.u8")))
	log("set runtime.votequorum.two_node", ReqSet, set("runtime.votequorum.two_node", Uint8(0)))
	log("set runtime.config.totem.token", ReqSet, set("runtime.config.totem.token", Uint32(5)))
	log("set runtime.probe.x (new)", ReqSet, set("runtime.probe.x", Uint32(5)))
	log("set stats.probe.x in icmap", ReqSet, set("stats.probe.x", Uint32(5)))
	log("delete stats.probe.x in icmap", ReqDelete, ok(AppendDelete(nil, "stats.probe.x")))
	log("inc totem.cluster_name (RO)", ReqAdjustInt, ok(AppendAdjust(nil, "totem.cluster_name", 1)))
	log("set nodelist.local_node_pos", ReqSet, set("nodelist.local_node_pos", Uint32(0)))
	log("unknown request id 10", ReqSet, rawReq(10, 24, func([]byte) {}))
	log("unknown request id 10 as get", ReqGet, rawReq(10, 24, func([]byte) {}))
	b, _ = r.send(rawReq(10, 24, func([]byte) {}))
	capture(t, "FuzzDecodeResponse", "reject", b, ReqIterNext)
	log("set_current_map 2 (raw)", ReqSetCurrentMap, rawReq(ReqSetCurrentMap, 24, func(b []byte) { le.PutUint32(b[16:], 2) }))

	// Iteration.
	ii := ok(AppendIterInit(nil, "totem."))
	capture(t, "FuzzDecodeRequest", "iter_init", ii)
	it, b := r.call(ReqIterInit, ii)
	capture(t, "FuzzDecodeResponse", "iter_init", b, ReqIterInit)
	t.Logf("iter_init totem.: handle %#x", it.Handle)
	for i := 0; ; i++ {
		resp, b := r.call(ReqIterNext, AppendIterNext(nil, it.Handle))
		if i == 0 {
			capture(t, "FuzzDecodeResponse", "iter_next", b, ReqIterNext)
			capture(t, "FuzzDecodeRequest", "iter_next", AppendIterNext(nil, it.Handle))
		}
		if resp.Error != corosync.OK {
			capture(t, "FuzzDecodeResponse", "iter_end", b, ReqIterNext)
			t.Logf("iter_next end: %v size %d", resp.Error, resp.Size)
			resp, _ = r.call(ReqIterNext, AppendIterNext(nil, it.Handle))
			t.Logf("iter_next again: %v", resp.Error)
			break
		}
		t.Logf("  %s (%s) len %d", resp.Key, resp.Type, resp.ValueLen)
	}
	log("iter_finalize", ReqIterFinalize, AppendIterFinalize(nil, it.Handle))
	log("iter_finalize again", ReqIterFinalize, AppendIterFinalize(nil, it.Handle))
	log("iter_next bad handle", ReqIterNext, AppendIterNext(nil, 12345))
	log("iter_init no match", ReqIterInit, ok(AppendIterInit(nil, "zzz.nothing.")))

	// Tracking.
	ta := ok(AppendTrackAdd(nil, "test.", TrackAdd|TrackDelete|TrackModify|TrackPrefix, 0xc00c1e))
	capture(t, "FuzzDecodeRequest", "track_add", ta)
	tr, b := r.call(ReqTrackAdd, ta)
	capture(t, "FuzzDecodeResponse", "track_add", b, ReqTrackAdd)
	log("set test.ev u32 1", ReqSet, set("test.ev", Uint32(1)))
	log("set test.ev u32 2", ReqSet, set("test.ev", Uint32(2)))
	log("set test.ev u32 2 again", ReqSet, set("test.ev", Uint32(2)))
	log("set test.ev str", ReqSet, set("test.ev", String("hello")))
	log("delete test.ev", ReqDelete, ok(AppendDelete(nil, "test.ev")))
	for i, name := range []string{"ev_add", "ev_modify", "ev_modify_type", "ev_delete"} {
		b, err := r.event(2 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		n, err := DecodeEvent(b)
		t.Logf("event %s: %s => %+v %#v %#v %v", name, hexdump(b), n, n.New, n.Old, err)
		capture(t, "FuzzDecodeEvent", name, b)
	}
	if b, err := r.event(500 * time.Millisecond); err == nil {
		t.Logf("unexpected extra event %s", hexdump(b))
	}
	log("track_add flags 0x10 (raw)", ReqTrackAdd, rawReq(ReqTrackAdd, 296, func(b []byte) { rawName(b[16:], "test.x"); le.PutUint32(b[280:], 0x10) }))
	log("track_add flags 0", ReqTrackAdd, rawReq(ReqTrackAdd, 296, func(b []byte) { rawName(b[16:], "test.x") }))
	log("set_current_map while tracking", ReqSetCurrentMap, ok(AppendSetCurrentMap(nil, MapStats)))
	td := AppendTrackDelete(nil, tr.Handle)
	capture(t, "FuzzDecodeRequest", "track_delete", td)
	_, b = r.call(ReqTrackDelete, td)
	capture(t, "FuzzDecodeResponse", "track_delete", b, ReqTrackDelete)
	log("track_delete again", ReqTrackDelete, td)

	// The stats map, on a fresh connection.
	s := dialRaw(t, node)
	sm := ok(AppendSetCurrentMap(nil, MapStats))
	capture(t, "FuzzDecodeRequest", "set_current_map", sm)
	_, b = s.call(ReqSetCurrentMap, sm)
	capture(t, "FuzzDecodeResponse", "set_current_map", b, ReqSetCurrentMap)
	t.Logf("set_current_map stats: %s", hexdump(b))
	r = s
	log("stats get stats.srp.orf_token_tx", ReqGet, get("stats.srp.orf_token_tx"))
	log("stats get totem.cluster_name", ReqGet, get("totem.cluster_name"))
	log("stats set stats.srp.orf_token_tx", ReqSet, set("stats.srp.orf_token_tx", Uint64(0)))
	log("stats set stats.clear.all", ReqSet, set("stats.clear.all", Uint32(1)))
	log("stats set stats.clear.bogus", ReqSet, set("stats.clear.bogus", Uint32(1)))
	log("stats set new stats.probe.x", ReqSet, set("stats.probe.x", Uint32(1)))
	log("stats delete stats.srp.orf_token_tx", ReqDelete, ok(AppendDelete(nil, "stats.srp.orf_token_tx")))
	log("stats delete stats.clear.all", ReqDelete, ok(AppendDelete(nil, "stats.clear.all")))
	log("stats inc stats.srp.orf_token_tx", ReqAdjustInt, ok(AppendAdjust(nil, "stats.srp.orf_token_tx", 1)))
	log("stats track prefix add only", ReqTrackAdd, ok(AppendTrackAdd(nil, "stats.", TrackAdd|TrackPrefix, 1)))
	it, _ = s.call(ReqIterInit, ok(AppendIterInit(nil, "stats.ipcs.")))
	for {
		resp, _ := s.call(ReqIterNext, AppendIterNext(nil, it.Handle))
		if resp.Error != corosync.OK {
			break
		}
		g, _ := s.call(ReqGet, get(resp.Key))
		t.Logf("  %s (%s) iterlen %d getlen %d %q", resp.Key, resp.Type, resp.ValueLen, g.ValueLen, g.Value.Text())
		if strings.HasSuffix(resp.Key, "procname") {
			_, b := s.call(ReqGet, get16(resp.Key, 64))
			capture(t, "FuzzDecodeResponse", "get_stats_procname", b, ReqGet)
		}
	}
	log("iter_finalize", ReqIterFinalize, AppendIterFinalize(nil, it.Handle))
	log("set_current_map icmap", ReqSetCurrentMap, ok(AppendSetCurrentMap(nil, MapICMap)))
	log("get totem.cluster_name after back to icmap", ReqGet, get("totem.cluster_name"))
}

// TestProbeStatsSmallBuffer: finding (a). A GET on the stats map with a
// buffer smaller than the value. The daemon runs under valgrind (a
// corosync wrapper first in PATH) so an out-of-bounds write shows up in its
// log even when glibc does not notice.
func TestProbeStatsSmallBuffer(t *testing.T) {
	vg := valgrindCorosync(t)
	c := corotest.Start(t, 1, corotest.Options{TokenMS: 5000})
	node := c.Nodes[0]
	pid := node.Pid()
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	t.Logf("daemon pid %d runs %s", pid, exe)
	s := dialRaw(t, node)
	s.call(ReqSetCurrentMap, ok(AppendSetCurrentMap(nil, MapStats)))
	for _, key := range []string{"stats.srp.orf_token_tx", "stats.pg.msg_reserved"} {
		for _, n := range []uint64{1, 2} {
			b, err := s.send(rawReq(ReqGet, 288, func(b []byte) { rawName(b[16:], key); le.PutUint64(b[280:], n) }))
			_, derr := DecodeResponse(b, ReqGet)
			t.Logf("GET %s buffer %d: %s, %v; decode: %v", key, n, hexdump(b), err, derr)
			if err := alive(node, pid); err != nil {
				t.Fatalf("after GET %s buffer %d: %v", key, n, err)
			}
		}
	}
	time.Sleep(time.Second)
	t.Logf("valgrind log:\n%s", grepValgrind(vg))
}

// valgrindCorosync puts a corosync wrapper that runs the real one under
// valgrind first in PATH and returns the path of valgrind's log.
func valgrindCorosync(t *testing.T) string {
	dir := t.TempDir()
	real, err := exec.LookPath("corosync")
	if err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		t.Skip(err)
	}
	vlog := filepath.Join(dir, "valgrind.log")
	script := "#!/bin/sh\nexec valgrind --error-limit=no --log-file=" + vlog + " " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "corosync"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return vlog
}

func grepValgrind(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	var out []string
	for i, l := range lines {
		if strings.Contains(l, "Invalid write") || strings.Contains(l, "Invalid read") || strings.Contains(l, "ERROR SUMMARY") {
			end := min(i+14, len(lines))
			out = append(out, lines[i:end]...)
		}
	}
	return strings.Join(out, "\n")
}

// TestProbeSchedmissSizeQuery: finding (b). Make a schedmiss entry (stop the
// daemon longer than 0.8 token), then send a size-only GET for it.
func TestProbeSchedmissSizeQuery(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{TokenMS: 1000})
	node := c.Nodes[0]
	pid := node.Pid()
	syscall.Kill(pid, syscall.SIGSTOP)
	time.Sleep(2 * time.Second)
	syscall.Kill(pid, syscall.SIGCONT)
	time.Sleep(time.Second)
	if err := alive(node, pid); err != nil {
		t.Fatal(err)
	}
	s := dialRaw(t, node)
	s.call(ReqSetCurrentMap, ok(AppendSetCurrentMap(nil, MapStats)))
	// A safe GET first: does the entry exist?
	resp, b := s.call(ReqGet, ok(AppendGet(nil, "stats.schedmiss.0.delay")))
	t.Logf("GET stats.schedmiss.0.delay: %v len %d %#v %s", resp.Error, resp.ValueLen, resp.Value, hexdump(b[:64]))
	if resp.Error != corosync.OK {
		t.Fatalf("no schedmiss entry; log:\n%s", node.Log())
	}
	_ = b
	req := rawReq(ReqGet, 288, func(b []byte) { rawName(b[16:], "stats.schedmiss.0.timestamp") })
	got, err := s.send(req)
	t.Logf("size-only GET stats.schedmiss.0.timestamp: %x, %v", got, err)
	time.Sleep(time.Second)
	if err := alive(node, pid); err != nil {
		t.Logf("DAEMON DIED: %v", err)
		out, _ := exec.Command("sh", "-c", "tail -5 "+node.LogPath()+"; tail -5 "+filepath.Join(node.Dir, "stdout")).CombinedOutput()
		t.Logf("tail of logs:\n%s", out)
		return
	}
	t.Logf("daemon survived")
}

// TestProbeIterLatePrefix: finding (c). ITER_INIT with a prefix, then more
// than the request ring's size (1 MiB) of other requests, then ITER_NEXT.
func TestProbeIterLatePrefix(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{})
	node := c.Nodes[0]
	pid := node.Pid()
	r := dialRaw(t, node)
	// Many iterators on "totem.", then 1.5 MiB of same-sized ITER_INITs on
	// "runtime.members.", then the first ITER_NEXT of each "totem." iterator.
	var its []uint64
	for i := 0; i < 64; i++ {
		it, _ := r.call(ReqIterInit, ok(AppendIterInit(nil, "totem.")))
		its = append(its, it.Handle)
	}
	first := map[string]int{}
	resp, _ := r.call(ReqIterNext, AppendIterNext(nil, its[0]))
	first["(no wrap) "+resp.Key]++
	for i := 0; i < 5600; i++ {
		it, _ := r.call(ReqIterInit, ok(AppendIterInit(nil, "runtime.members.")))
		r.call(ReqIterFinalize, AppendIterFinalize(nil, it.Handle))
	}
	for _, h := range its[1:] {
		resp, _ := r.call(ReqIterNext, AppendIterNext(nil, h))
		first[resp.Key+" "+resp.Error.Error()[:12]]++
		r.call(ReqIterFinalize, AppendIterFinalize(nil, h))
	}
	t.Logf("first key of 64 iterators on totem. (63 after 3 MiB of other requests): %v", first)
	if err := alive(node, pid); err != nil {
		t.Fatal(err)
	}
}

// TestProbeStatsTrackProcname: exact tracking of a string stats key.
func TestProbeStatsTrackProcname(t *testing.T) {
	c := corotest.Start(t, 1, corotest.Options{})
	node := c.Nodes[0]
	pid := node.Pid()
	s := dialRaw(t, node)
	s.call(ReqSetCurrentMap, ok(AppendSetCurrentMap(nil, MapStats)))
	it, _ := s.call(ReqIterInit, ok(AppendIterInit(nil, "stats.ipcs.service0.")))
	var key string
	for {
		resp, _ := s.call(ReqIterNext, AppendIterNext(nil, it.Handle))
		if resp.Error != corosync.OK {
			break
		}
		if strings.HasSuffix(resp.Key, ".procname") {
			key = resp.Key
		}
	}
	s.call(ReqIterFinalize, AppendIterFinalize(nil, it.Handle))
	g, _ := s.call(ReqGet, ok(AppendGet(nil, key)))
	t.Logf("tracking %s = %q (%d bytes)", key, g.Value.Text(), g.ValueLen)
	resp, _ := s.call(ReqTrackAdd, rawReq(ReqTrackAdd, 296, func(b []byte) { rawName(b[16:], key); le.PutUint32(b[280:], uint32(TrackModify)) }))
	t.Logf("track_add: %v", resp.Error)
	for i := 0; i < 5; i++ {
		time.Sleep(1600 * time.Millisecond)
		if err := alive(node, pid); err != nil {
			t.Logf("DAEMON DIED after %d polls: %v", i+1, err)
			out, _ := exec.Command("sh", "-c", "tail -5 "+node.LogPath()+"; tail -5 "+filepath.Join(node.Dir, "stdout")).CombinedOutput()
			t.Logf("tail of logs:\n%s", out)
			return
		}
		if b, err := s.event(100 * time.Millisecond); err == nil {
			n, _ := DecodeEvent(b)
			t.Logf("event %+v", n)
		}
	}
	t.Logf("daemon survived")
}

// call sends req (a request with id) and decodes the response.
func (r *raw) call(id int32, req []byte) (Response, []byte) {
	r.t.Helper()
	b, err := r.send(req)
	if err != nil {
		r.t.Fatalf("%s: %v", RequestName(id), err)
	}
	resp, err := DecodeResponse(b, id)
	if err != nil {
		r.t.Fatalf("%s: decode %x: %v", RequestName(id), b, err)
	}
	return resp, b
}

// event reads one event within d.
func (r *raw) event(d time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b, err := r.c.ReadEvent(ctx)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// capture writes b as a fuzz seed for target when CMAPWIRE_CAPTURE=1, so the
// seeds in testdata/fuzz are bytes a real daemon sent (or accepted).
func capture(t testing.TB, target, name string, b []byte, reqID ...int32) {
	if os.Getenv("CMAPWIRE_CAPTURE") != "1" {
		return
	}
	corpus.Write(t, target, name, b, reqID...)
}

func hexdump(b []byte) string {
	if len(b) > 400 {
		return hex.EncodeToString(b[:400]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return hex.EncodeToString(b)
}
