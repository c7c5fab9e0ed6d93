package status

import (
	"testing"

	"github.com/corosync-go/corosync/cfg"
)

// FuzzRingStatus feeds the ring status parser any entry the daemon could
// send: it never panics, and every link it makes is a knet link number of
// a nodelist node, or a ring of the local node.
func FuzzRingStatus(f *testing.F) {
	f.Add("0 192.0.2.1", "n31")
	f.Add("1 198.51.100.1", "n?d")
	f.Add("10.0.0.1", "Marking ringid 0 interface 10.0.0.1 FAULTY")
	f.Add("7 ::1", "n3337")
	f.Add("-1 x", "n")
	f.Fuzz(func(t *testing.T, name, status string) {
		conf := &cmapPart{nodes: map[uint32]confNode{
			1: {addrs: []string{"192.0.2.1"}}, 2: {addrs: []string{"192.0.2.2", "198.51.100.2"}}, 4: {},
		}}
		r := &reader{nodes: map[uint32]*Node{}, conf: conf}
		err := r.applyRings([]cfg.RingInterface{{Name: name, Status: status}})
		for id, n := range r.nodes {
			if _, ok := conf.nodes[id]; !ok {
				t.Fatalf("node %d not in the nodelist", id)
			}
			for _, l := range n.Links {
				if l.Number < 0 || l.Number >= cfg.MaxLinks {
					t.Fatalf("link %d", l.Number)
				}
			}
		}
		if err == nil && len(r.s.Rings) == 0 && r.s.Links != LinksFromRingStatus {
			t.Fatalf("entry %q %q read as nothing", name, status)
		}
	})
}
