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

// names keeps node names from cmap's nodelist (nodelist.node.N.nodeid and
// .name), reloaded only when a track on the nodelist says it changed (or
// after a reconnect), so a scrape costs no cmap round trip for them.
type names struct {
	c *cmap.Client

	mu    sync.Mutex
	dirty bool
	byID  map[uint32]string
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

// get returns the names, reloading them if they may have changed.
func (n *names) get(ctx context.Context) (map[uint32]string, error) {
	n.mu.Lock()
	byID, dirty := n.byID, n.dirty || n.byID == nil
	n.mu.Unlock()
	if !dirty {
		return byID, nil
	}
	ids, nm := map[string]uint32{}, map[string]string{}
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
			if s, err := e.Value.String(); err == nil {
				nm[idx] = s
			}
		}
	}
	byID = map[uint32]string{}
	for idx, id := range ids {
		byID[id] = nm[idx]
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
