package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cmap"
)

var (
	votequorumNotExist = corosync.ErrNotExist
	cfgUnknownNode     = corosync.ErrFailedOperation
)

// names keeps the nodelist from cmap (nodelist.node.N.nodeid, .name and
// .ringL_addr), reloaded only when a track on the nodelist says it changed
// (or after a reconnect), so a scrape costs no cmap round trip for it.
type names struct {
	c *cmap.Client

	mu    sync.Mutex
	dirty bool
	byID  map[uint32]nodelistNode
}

// nodelistNode is one node of the nodelist.
type nodelistNode struct {
	name  string         // nodelist.node.N.name
	addrs map[int]string // nodelist.node.N.ringL_addr by L
}

// display is the node's name as that release's corosync-quorumtool shows
// it: 2.x shows ring0_addr, 3.x the name; "" when the nodelist has none.
func (n nodelistNode) display(v2 bool) string {
	if v2 {
		return n.addrs[0]
	}
	return n.name
}

// watch marks the names stale on every nodelist change until ctx ends.
func (n *names) watch(ctx context.Context) {
	for {
		tr, err := n.c.Track(ctx, "nodelist.node.", cmap.TrackAdd|cmap.TrackDelete|cmap.TrackModify|cmap.TrackPrefix, cmap.LatestWins())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Second) // not connected yet: the client reconnects by itself
			continue
		}
		tr.Run(ctx, func(cmap.Event) error {
			n.mu.Lock()
			n.dirty = true
			n.mu.Unlock()
			return nil
		})
		tr.Close()
		if ctx.Err() != nil {
			return
		}
	}
}

// get returns the nodelist by node id, reloading it if it may have changed.
func (n *names) get(ctx context.Context) (map[uint32]nodelistNode, error) {
	n.mu.Lock()
	byID, dirty := n.byID, n.dirty || n.byID == nil
	n.mu.Unlock()
	if !dirty {
		return byID, nil
	}
	ids, nm, addrs := map[string]uint32{}, map[string]string{}, map[string]map[int]string{}
	for e, err := range n.c.IterValues(ctx, "nodelist.node.") {
		if err != nil {
			return byID, err
		}
		rest := strings.TrimPrefix(e.Key, "nodelist.node.")
		idx, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		switch field {
		case "nodeid":
			if v, ok := number(e.Value); ok {
				ids[idx] = uint32(v)
			}
		case "name":
			if s, err := e.Value.Str(); err == nil {
				nm[idx] = s
			}
		default:
			// ringL_addr: the node's address on link (ring) L.
			l, ok := strings.CutPrefix(field, "ring")
			l, ok2 := strings.CutSuffix(l, "_addr")
			link, err := strconv.Atoi(l)
			if !ok || !ok2 || err != nil || link < 0 {
				continue
			}
			if s, err := e.Value.Str(); err == nil {
				if addrs[idx] == nil {
					addrs[idx] = map[int]string{}
				}
				addrs[idx][link] = s
			}
		}
	}
	byID = map[uint32]nodelistNode{}
	for idx, id := range ids {
		byID[id] = nodelistNode{name: nm[idx], addrs: addrs[idx]}
	}
	n.mu.Lock()
	n.byID, n.dirty = byID, false
	n.mu.Unlock()
	return byID, nil
}

// number returns a numeric cmap value as a float64.
func number(v cmap.Value) (float64, bool) {
	switch v.Type() {
	case cmap.TypeInt8, cmap.TypeInt16, cmap.TypeInt32, cmap.TypeInt64:
		x, err := v.Int64()
		if err != nil {
			if i, err := v.Int32(); err == nil {
				return float64(i), true
			}
			if i, err := v.Int16(); err == nil {
				return float64(i), true
			}
			i, err := v.Int8()
			return float64(i), err == nil
		}
		return float64(x), true
	case cmap.TypeUint8, cmap.TypeUint16, cmap.TypeUint32, cmap.TypeUint64:
		for _, f := range []func() (float64, error){
			func() (float64, error) { x, err := v.Uint64(); return float64(x), err },
			func() (float64, error) { x, err := v.Uint32(); return float64(x), err },
			func() (float64, error) { x, err := v.Uint16(); return float64(x), err },
			func() (float64, error) { x, err := v.Uint8(); return float64(x), err },
		} {
			if x, err := f(); err == nil {
				return x, true
			}
		}
	case cmap.TypeFloat:
		x, err := v.Float()
		return float64(x), err == nil
	case cmap.TypeDouble:
		x, err := v.Double()
		return x, err == nil
	}
	return 0, false
}

// knetKey is the stats map key of one statistic of one node's link.
func knetKey(node uint32, link int, stat string) string {
	return "stats.knet.node" + strconv.FormatUint(uint64(node), 10) + ".link" + strconv.Itoa(link) + "." + stat
}
