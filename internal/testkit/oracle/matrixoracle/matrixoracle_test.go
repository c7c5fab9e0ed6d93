//go:build oracle && linux

package matrixoracle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/votequorum"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// requireOwnLibraries fails unless the C client libraries this test binary
// loaded are those of the daemon under test (COROSYNC_GO_DAEMON), so a
// build against the wrong prefix cannot pass for a comparison.
func requireOwnLibraries(t *testing.T, d corotest.Daemon) {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	want := d.LibDir()
	for _, lib := range []string{"libquorum.so", "libvotequorum.so", "libcfg.so", "libcmap.so"} {
		found := ""
		for _, line := range strings.Split(string(maps), "\n") {
			f := strings.Fields(line)
			if len(f) >= 6 && strings.Contains(filepath.Base(f[5]), lib) {
				found = f[5]
				break
			}
		}
		if found == "" {
			t.Fatalf("%s is not loaded", lib)
		}
		dir, _ := filepath.EvalSymlinks(filepath.Dir(found))
		wantDir, _ := filepath.EvalSymlinks(want)
		if dir != wantDir {
			t.Fatalf("%s was loaded from %s, but daemon %s ships it in %s: build with CGO_CFLAGS=-I%s CGO_LDFLAGS='-L%s -Wl,-rpath,%s' (make oracle-matrix)",
				lib, found, d, want, d.IncludeDir(), want, want)
		}
	}
}

// Everything the Go clients read equals what the daemon's own C libraries
// read on the same node in the same state, on a healthy cluster and after
// a node is lost.
func TestSameAsCLibraries(t *testing.T) {
	d := corotest.DefaultDaemon()
	c := corotest.Start(t, 3, corotest.Options{})
	requireOwnLibraries(t, d)
	nd := c.Node(1)
	ns := nd.NetNSPath()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	q, err := quorum.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if got, want := q.DaemonVersion(), d.ReleaseLine(); got != want {
		t.Errorf("%s: the probe found %v, want %v", d, got, want)
	}
	vq, err := votequorum.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer vq.Close()
	cf, err := cfg.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	cm, err := cmap.Dial(ctx, client.WithDialer(nd.Dialer()))
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()

	cq, err := OpenQuorum(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer cq.Close()
	cvq, err := OpenVotequorum(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer cvq.Close()
	ccf, err := OpenCfg(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer ccf.Close()
	ccm, err := OpenCmap(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer ccm.Close()

	compare := func(state string, members []uint32) {
		t.Helper()
		if got := q.Type(); uint32(got) != cq.Type {
			t.Errorf("%s: quorum type %v, libquorum %d", state, got, cq.Type)
		}
		gq, gerr := q.Quorate(ctx)
		lq, lerr := cq.Quorate()
		if gq != lq || corosync.Code(gerr) != corosync.Code(lerr) {
			t.Errorf("%s: quorate %v (%v), libquorum %v (%v)", state, gq, gerr, lq, lerr)
		}
		for _, id := range append([]uint32{0, 99}, members...) {
			gi, gerr := vq.Info(ctx, id)
			li, lerr := cvq.Info(id)
			if corosync.Code(gerr) != corosync.Code(lerr) {
				t.Errorf("%s: votequorum info %d: %v, libvotequorum %v", state, id, gerr, lerr)
				continue
			}
			if gerr != nil {
				continue
			}
			g := Info{gi.NodeID, uint32(gi.State), gi.NodeVotes, gi.NodeExpectedVotes, gi.HighestExpected,
				gi.TotalVotes, gi.Quorum, uint32(gi.Flags), gi.QdeviceVotes, gi.QdeviceName}
			if g != li {
				t.Errorf("%s: votequorum info %d:\n go %+v\n  C %+v", state, id, g, li)
			}
		}
		gid, gerr := cf.LocalNodeID(ctx)
		lid, lerr := ccf.LocalNodeID()
		if gid != lid || gerr != nil || lerr != nil {
			t.Errorf("%s: local node id %d (%v), libcfg %d (%v)", state, gid, gerr, lid, lerr)
		}
		grs, gerr := cf.RingStatus(ctx)
		lrs, lerr := ccf.Rings()
		var g []Ring
		for _, r := range grs {
			g = append(g, Ring{r.Name, r.Status})
		}
		if gerr != nil || lerr != nil || !slices.Equal(g, lrs) {
			t.Errorf("%s: ring status %q (%v), libcfg %q (%v)", state, g, gerr, lrs, lerr)
		}
		for _, id := range []uint32{1, 2, 3, 99} {
			ga, gerr := cf.NodeAddrs(ctx, id)
			la, lerr := ccf.NodeAddrs(id)
			var gs []string
			for _, a := range ga {
				gs = append(gs, a.String())
			}
			if corosync.Code(gerr) != corosync.Code(lerr) || !slices.Equal(gs, la) {
				t.Errorf("%s: node %d addresses %v (%v), libcfg %v (%v)", state, id, gs, gerr, la, lerr)
			}
		}
		for _, key := range []string{"totem.cluster_name", "totem.transport", "nodelist.node.0.nodeid", "nodelist.node.2.ring0_addr",
			"quorum.provider", "runtime.votequorum.this_node_id", "runtime.votequorum.two_node", "totem.token", "no.such.key"} {
			gv, gerr := cm.Get(ctx, key)
			lt, lb, lerr := ccm.Get(key)
			if corosync.Code(gerr) != corosync.Code(lerr) {
				t.Errorf("%s: cmap %s: %v, libcmap %v", state, key, gerr, lerr)
				continue
			}
			if gerr == nil && (int(gv.Type()) != lt || string(gv.Bytes()) != string(lb)) {
				t.Errorf("%s: cmap %s = %v %q, libcmap %d %q", state, key, gv.Type(), gv.Bytes(), lt, lb)
			}
		}
	}
	compare("healthy", []uint32{1, 2, 3})
	extraInfo(t, ctx, d, vq, cvq)

	if err := c.Node(3).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := nd.WaitMembers(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	// quorumtool sees the new membership when totem delivers it;
	// votequorum's totals follow on the same delivery: wait for them.
	for {
		if i, err := cvq.Info(1); err == nil && i.TotalVotes == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("votequorum never counted 2 votes after node 3 was killed")
		case <-time.After(20 * time.Millisecond):
		}
	}
	compare("node 3 killed", []uint32{1, 2, 3})
}

// extraInfo compares corosync main's quorum device extra info with main's
// own libvotequorum: what one sets, the other reads, and both read the
// same for every node. On a release, the library has no such calls and the
// client refuses them without sending.
func extraInfo(t *testing.T, ctx context.Context, d corotest.Daemon, vq *votequorum.Client, cvq *Votequorum) {
	if d.Name != "main" {
		if HasExtraInfo() {
			t.Errorf("%s's libvotequorum has the extra info calls", d)
		}
		if _, err := vq.QdeviceExtraInfo(ctx, 1); !errors.Is(err, corosync.ErrNotSupported) {
			t.Errorf("%s: QdeviceExtraInfo: %v, want ErrNotSupported", d, err)
		}
		return
	}
	if !HasExtraInfo() {
		t.Fatalf("%s's libvotequorum lacks the extra info calls", d)
	}
	if err := vq.QdeviceRegister(ctx, "go-oracle"); err != nil {
		t.Fatal(err)
	}
	defer vq.QdeviceUnregister(ctx, "go-oracle")
	same := func(step string, want []byte) {
		t.Helper()
		for _, id := range []uint32{0, 1, 2, 3} {
			g, gerr := vq.QdeviceExtraInfo(ctx, id)
			l, lerr := cvq.ExtraInfo(id)
			if gerr != nil || lerr != nil || !bytes.Equal(g, l) {
				t.Errorf("%s: node %d: go %q (%v), libvotequorum %q (%v)", step, id, g, gerr, l, lerr)
			}
			if id == 1 && !bytes.Equal(g, want) {
				t.Errorf("%s: node 1 has %q, want %q", step, g, want)
			}
		}
	}
	same("none set", nil)
	if err := vq.SetQdeviceExtraInfo(ctx, []byte("set by go\x00")); err != nil {
		t.Fatal(err)
	}
	same("set by go", []byte("set by go\x00"))
	if err := cvq.SetExtraInfo([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	same("set by libvotequorum", []byte{1, 2, 3})
	big := bytes.Repeat([]byte("x"), 4096)
	gerr := vq.SetQdeviceExtraInfo(ctx, append(big, 'y'))
	lerr := cvq.SetExtraInfo(append(big, 'y'))
	if !errors.Is(gerr, corosync.ErrInvalidParam) || corosync.Code(gerr) != corosync.Code(lerr) {
		t.Errorf("4097 bytes: go %v, libvotequorum %v", gerr, lerr)
	}
	if err := cvq.SetExtraInfo(nil); err != nil {
		t.Fatal(err)
	}
	same("cleared by libvotequorum", nil)
}
