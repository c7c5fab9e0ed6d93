package corosync_test

import (
	"fmt"
	"testing"

	corosync "github.com/corosync-go/corosync"
)

func TestRingIDString(t *testing.T) {
	for _, r := range []corosync.RingID{{}, {NodeID: 1, Seq: 5}, {NodeID: 0xffffffff, Seq: 0xffffffffffffffff}, {NodeID: 3, Seq: 0x1a2b}} {
		if got, want := r.String(), fmt.Sprintf("%x.%x", r.NodeID, r.Seq); got != want {
			t.Errorf("%#v.String() = %q, want %q (corosync's tools print %%x.%%x)", r, got, want)
		}
	}
}
