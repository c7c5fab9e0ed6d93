package votequorum_test

import (
	"testing"

	"github.com/corosync-go/corosync/internal/wire/vqwire"
	"github.com/corosync-go/corosync/votequorum"
)

// The public constants are literals (so go doc shows the number); the codec
// is what the daemon is spoken to with. They must not drift apart.
func TestConstantsMatchWire(t *testing.T) {
	for _, c := range []struct {
		name      string
		pub, wire int
	}{
		{"MaxVotes", votequorum.MaxVotes, vqwire.MaxVotes},
		{"MaxQdeviceNameLen", votequorum.MaxQdeviceNameLen, vqwire.MaxNameLen},
		{"MaxQdeviceExtraInfo", votequorum.MaxQdeviceExtraInfo, vqwire.MaxExtraInfo},
		{"FlagQdeviceHasExtraInfo", int(votequorum.FlagQdeviceHasExtraInfo), int(vqwire.FlagQdeviceHasExtraInfo)},
	} {
		if c.pub != c.wire {
			t.Errorf("votequorum.%s = %d, the codec's is %d", c.name, c.pub, c.wire)
		}
	}
}
