package cpg_test

import (
	"testing"

	"github.com/corosync-go/corosync/cpg"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// The public constants are literals (so go doc shows the number); the codec
// is what the daemon is spoken to with. They must not drift apart.
func TestConstantsMatchWire(t *testing.T) {
	for _, c := range []struct {
		name      string
		pub, wire uint64
	}{
		{"MaxNameLen", cpg.MaxNameLen, cpgwire.MaxNameLen},
		{"MaxAtomicMessage", cpg.MaxAtomicMessage, cpgwire.MaxAtomicMsgSize},
		{"ReasonJoin", uint64(cpg.ReasonJoin), uint64(cpgwire.ReasonJoin)},
		{"ReasonLeave", uint64(cpg.ReasonLeave), uint64(cpgwire.ReasonLeave)},
		{"ReasonNodeDown", uint64(cpg.ReasonNodeDown), uint64(cpgwire.ReasonNodeDown)},
		{"ReasonNodeUp", uint64(cpg.ReasonNodeUp), uint64(cpgwire.ReasonNodeUp)},
		{"ReasonProcDown", uint64(cpg.ReasonProcDown), uint64(cpgwire.ReasonProcDown)},
		{"Unordered", uint64(cpg.Unordered), uint64(cpgwire.GuaranteeUnordered)},
		{"FIFO", uint64(cpg.FIFO), uint64(cpgwire.GuaranteeFIFO)},
		{"Agreed", uint64(cpg.Agreed), uint64(cpgwire.GuaranteeAgreed)},
		{"Safe", uint64(cpg.Safe), uint64(cpgwire.GuaranteeSafe)},
	} {
		if c.pub != c.wire {
			t.Errorf("cpg.%s = %d, the codec's is %d", c.name, c.pub, c.wire)
		}
	}
}
