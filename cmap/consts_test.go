package cmap_test

import (
	"testing"

	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// The public constants are literals (so go doc shows the number); the codec
// is what the daemon is spoken to with. They must not drift apart.
func TestConstantsMatchWire(t *testing.T) {
	for _, c := range []struct {
		name      string
		pub, wire int64
	}{
		{"TrackAdd", int64(cmap.TrackAdd), int64(cmapwire.TrackAdd)},
		{"TrackDelete", int64(cmap.TrackDelete), int64(cmapwire.TrackDelete)},
		{"TrackModify", int64(cmap.TrackModify), int64(cmapwire.TrackModify)},
		{"TrackPrefix", int64(cmap.TrackPrefix), int64(cmapwire.TrackPrefix)},
		{"MaxKeyLen", cmap.MaxKeyLen, cmapwire.MaxKeyLen},
		{"MinKeyLen", cmap.MinKeyLen, cmapwire.MinKeyLen},
		{"MaxValueLen", cmap.MaxValueLen, cmapwire.MaxValueLen},
		{"MaxStringLen", cmap.MaxStringLen, cmapwire.MaxStringLen},
	} {
		if c.pub != c.wire {
			t.Errorf("cmap.%s = %d, the codec's is %d", c.name, c.pub, c.wire)
		}
	}
}
