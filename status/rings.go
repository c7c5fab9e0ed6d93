package status

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
)

// ringStatus reads the old ring status (corosync 2.x and 3.0):
//
//   - a totem ring of udp or udpu (2.x): one Ring per ring of the local
//     node, as corosync-cfgtool -s lists them;
//   - a knet link (3.0): the link's status character for each host, hosts
//     in node id order of the nodelist (as corosync-cfgtool reads them):
//     'n' the local node, '0'+(enabled|connected<<1|dynconnected<<2), 'd' a
//     host without the link, anything else a state knet cannot tell.
func (r *reader) ringStatus() error {
	rings, err := r.cl.cf.RingStatus(r.ctx)
	if err != nil {
		return err
	}
	return r.applyRings(rings)
}

// applyRings puts the ring status entries into the snapshot.
func (r *reader) applyRings(rings []cfg.RingInterface) error {
	s := &r.s
	var ids []uint32
	if r.conf != nil {
		ids = slices.Sorted(maps.Keys(r.conf.nodes))
	}
	for i, ring := range rings {
		link, addr, knet := knetLink(ring)
		if !knet {
			s.Links = LinksFromRings
			s.Rings = append(s.Rings, Ring{Number: i, Address: ring.Name, Status: ring.Status, Faulty: strings.Contains(ring.Status, "FAULTY")})
			continue
		}
		s.Links = LinksFromRingStatus
		if len(ids) < len(ring.Status) {
			return corosync.NewError("ring status", corosync.ErrMessageError,
				fmt.Errorf("link %d: status of %d hosts, %d nodes in the nodelist", link, len(ring.Status), len(ids)))
		}
		for p := 0; p < len(ring.Status); p++ {
			id, st := ids[p], ring.Status[p]
			var dst string
			if a := r.conf.nodes[id].addrs; link < len(a) {
				dst = a[link]
			}
			l := Link{Number: link, Src: addr, Dst: dst}
			switch {
			case st == 'n': // the local node
				l.Enabled, l.Connected, l.Dst = true, true, addr
			case st >= '0' && st <= '9':
				bits := st - '0'
				l.Enabled, l.Connected, l.DynConnected = bits&1 != 0, bits&2 != 0, bits&4 != 0
			case st == 'd': // that host has no such link
				continue
			default:
				l.Unknown = true
			}
			n := r.node(id)
			n.HasLinks = true
			n.Reachable = n.Reachable || st == 'n'
			n.Links = append(n.Links, l)
		}
	}
	return nil
}

// knetLink parses a knet entry of RingStatus, named "<link> <local
// address>"; a udp or udpu ring is named by its address alone.
func knetLink(r cfg.RingInterface) (link int, addr string, ok bool) {
	num, addr, ok := strings.Cut(r.Name, " ")
	if !ok {
		return 0, "", false
	}
	link, err := strconv.Atoi(num)
	if err != nil || link < 0 || link >= cfg.MaxLinks {
		return 0, "", false
	}
	return link, addr, true
}
