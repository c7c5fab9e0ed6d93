//go:build oracle

package cfgoracle

import (
	"reflect"
	"testing"

	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// Output recorded from corosync-cfgtool 3.1.7 on node 1 with node 3 cut off.
const (
	recordedS = "Local node ID 1, transport knet\nLINK ID 0 udp\n\taddr\t= 192.0.2.1\n\tstatus:\n\t\tnodeid:          1:\tlocalhost\n\t\tnodeid:          2:\tconnected\n\t\tnodeid:          3:\tdisconnected\n"
	recordedN = "Local node ID 1, transport knet\nnodeid: 2 reachable\n   LINK: 0 udp (192.0.2.1->192.0.2.2) enabled connected mtu: 1446\n\n"
)

func TestParseRecordedTool(t *testing.T) {
	s, err := ParseToolS(recordedS)
	want := ToolLinks{LocalID: 1, Transport: "knet", Links: map[int]ToolLink{0: {Transport: "udp", Addr: "192.0.2.1",
		Status: map[uint32]string{1: "localhost", 2: "connected", 3: "disconnected"}}}}
	if err != nil || !reflect.DeepEqual(s, want) {
		t.Errorf("-s: %+v %v", s, err)
	}
	n, err := ParseToolN(recordedN)
	wantN := ToolNodes{LocalID: 1, Transport: "knet", Nodes: map[uint32]ToolNode{2: {Links: map[int]cfgwire.LinkStatus{
		0: {Enabled: true, Connected: true, MTU: 1446, Src: "192.0.2.1", Dst: "192.0.2.2"}}}}}
	if err != nil || !reflect.DeepEqual(n, wantN) {
		t.Errorf("-n: %+v %v", n, err)
	}
	for _, bad := range []string{"garbage", "Local node ID 1, transport knet\nLINK: x (a->b) mtu:", "Local node ID 1, transport knet\nnodeid: x reachable"} {
		if _, err := ParseToolN(bad); err == nil {
			t.Errorf("-n accepted %q", bad)
		}
	}
	if _, err := ParseToolS("Local node ID 1, transport knet\n\t\tnodeid: 1: x\n"); err == nil {
		t.Error("-s accepted a status line outside a link")
	}
}
