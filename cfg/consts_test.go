package cfg_test

import (
	"testing"

	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// The public constants are literals (so go doc shows the number); the codec
// is what the daemon is spoken to with. They must not drift apart.
func TestConstantsMatchWire(t *testing.T) {
	for _, c := range []struct {
		name      string
		pub, wire uint64
	}{
		{"MaxLinks", cfg.MaxLinks, cfgwire.MaxLinks},
		{"MaxReasonLen", cfg.MaxReasonLen, cfgwire.MaxReasonLen},
		{"ShutdownRequest", uint64(cfg.ShutdownRequest), uint64(cfgwire.ShutdownRequest)},
		{"ShutdownRegardless", uint64(cfg.ShutdownRegardless), uint64(cfgwire.ShutdownRegardless)},
		{"ShutdownImmediate", uint64(cfg.ShutdownImmediate), uint64(cfgwire.ShutdownImmediate)},
		{"ShutdownNo", uint64(cfg.ShutdownNo), uint64(cfgwire.ShutdownNo)},
		{"ShutdownYes", uint64(cfg.ShutdownYes), uint64(cfgwire.ShutdownYes)},
	} {
		if c.pub != c.wire {
			t.Errorf("cfg.%s = %d, the codec's is %d", c.name, c.pub, c.wire)
		}
	}
}
