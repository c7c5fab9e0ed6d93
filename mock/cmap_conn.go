package mock

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// cmapConn is the daemon side of a cmap connection: its map, iterators
// and trackers.
type cmapConn struct {
	*conn
	stats  bool // SET_CURRENT_MAP 1
	iters  map[uint64]*cmapIter
	tracks map[uint64]*cmapTrack
	seq    uint32
}

type cmapIter struct {
	prefix  string
	last    string
	started bool
}

type cmapTrack struct {
	key    string
	flags  cmapwire.TrackFlags
	cookie uint64
	seq    uint32
}

// newHandle returns a new handle: like corosync's handle database, a random
// check in the upper half and an index in the lower one.
func (c *cmapConn) newHandle() (uint64, uint32) {
	c.seq++
	return uint64(rand.Uint32()|1)<<32 | uint64(c.seq), c.seq
}

func (c *cmapConn) sortedTracks() []*cmapTrack {
	ts := make([]*cmapTrack, 0, len(c.tracks))
	for _, t := range c.tracks {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *cmapTrack) int { return int(a.seq) - int(b.seq) })
	return ts
}

// current returns the map the connection works on: the node's icmap, or a
// snapshot of its stats map.
func (c *cmapConn) current() *kvmap {
	if c.stats {
		return c.n.cmapStats()
	}
	return c.n.cmap.icmap
}

// handle answers a cmap request.
func (c *cmapConn) handle(req, out []byte) []byte {
	r, err := cmapwire.DecodeRequest(req)
	if err != nil {
		var de *wire.DecodeError
		if !errors.As(err, &de) || !strings.HasPrefix(de.Field, "key_name") || cmapwire.RequestSize(r.ID) == 0 {
			return cmapwire.AppendReject(out, corosync.ErrInvalidParam)
		}
		// The daemon reads the name as a C string and runs past the
		// buffer: a name no key can have.
		r.Key, r.KeyLen = "\x00", 1
		if r.ID == cmapwire.ReqSet {
			return cmapwire.AppendStatus(out, cmapwire.ResSet, corosync.ErrNameTooLong)
		}
	}
	if c.iters == nil {
		c.iters, c.tracks = map[uint64]*cmapIter{}, map[uint64]*cmapTrack{}
	}
	id := cmapwire.ResponseFor(r.ID)
	switch r.ID {
	case cmapwire.ReqSet:
		return cmapwire.AppendStatus(out, id, c.set(r.Key, r.Value))
	case cmapwire.ReqDelete:
		return cmapwire.AppendStatus(out, id, c.del(r.Key))
	case cmapwire.ReqAdjustInt:
		return cmapwire.AppendStatus(out, id, c.adjust(r.Key, r.Step))
	case cmapwire.ReqGet:
		return c.get(out, r.Key, r.ValueLen)
	case cmapwire.ReqIterInit:
		prefix := r.Key
		if r.KeyLen == 0 {
			prefix = "" // NULL: every key
		}
		h, _ := c.newHandle()
		c.iters[h] = &cmapIter{prefix: prefix}
		return cmapwire.AppendIterInitResponse(out, corosync.OK, h)
	case cmapwire.ReqIterNext:
		it := c.iters[r.Handle]
		if it == nil {
			return iterNext(out, corosync.ErrBadHandle, "", cmapwire.Value{})
		}
		key, v, ok := c.current().next(it.prefix, it.last, !it.started)
		if !ok {
			return iterNext(out, corosync.ErrNoSections, "", cmapwire.Value{})
		}
		it.last, it.started = key, true
		return iterNext(out, corosync.OK, key, v)
	case cmapwire.ReqIterFinalize:
		if c.iters[r.Handle] == nil {
			return cmapwire.AppendStatus(out, id, corosync.ErrBadHandle)
		}
		delete(c.iters, r.Handle)
		return cmapwire.AppendStatus(out, id, corosync.OK)
	case cmapwire.ReqTrackAdd:
		key := r.Key
		if r.KeyLen == 0 {
			key = "" // NULL
		}
		switch {
		case r.Flags&^(cmapwire.TrackAdd|cmapwire.TrackDelete|cmapwire.TrackModify|cmapwire.TrackPrefix) != 0:
			return cmapwire.AppendTrackAddResponse(out, corosync.ErrInvalidParam, 0)
		case c.stats && r.Flags&cmapwire.TrackPrefix != 0 && r.Flags&(cmapwire.TrackAdd|cmapwire.TrackDelete) != cmapwire.TrackAdd|cmapwire.TrackDelete:
			return cmapwire.AppendTrackAddResponse(out, corosync.ErrNotSupported, 0)
		}
		h, seq := c.newHandle()
		c.tracks[h] = &cmapTrack{key: key, flags: r.Flags, cookie: r.Cookie, seq: seq}
		return cmapwire.AppendTrackAddResponse(out, corosync.OK, h)
	case cmapwire.ReqTrackDelete:
		t := c.tracks[r.Handle]
		if t == nil {
			return cmapwire.AppendTrackDeleteResponse(out, corosync.ErrBadHandle, 0)
		}
		delete(c.tracks, r.Handle)
		return cmapwire.AppendTrackDeleteResponse(out, corosync.OK, t.cookie)
	case cmapwire.ReqSetCurrentMap:
		switch {
		case len(c.iters)+len(c.tracks) > 0:
			return cmapwire.AppendStatus(out, id, corosync.ErrBusy)
		case r.Map == cmapwire.MapICMap || r.Map == cmapwire.MapStats:
			c.stats = r.Map == cmapwire.MapStats
			return cmapwire.AppendStatus(out, id, corosync.OK)
		}
		return cmapwire.AppendStatus(out, id, corosync.ErrNotExist)
	}
	return cmapwire.AppendReject(out, corosync.ErrInvalidParam)
}

func iterNext(out []byte, code corosync.Error, key string, v cmapwire.Value) []byte {
	b, err := cmapwire.AppendIterNextResponse(out, code, key, uint64(v.Len()), v.Type())
	if err != nil {
		panic(fmt.Sprintf("mock cmap: %v", err)) // stored keys are valid
	}
	return b
}

// get answers a GET for a buffer of requested bytes (0: size only).
func (c *cmapConn) get(out []byte, key string, requested uint64) []byte {
	v, ok := c.current().get(key)
	if !ok {
		b, _ := cmapwire.AppendGetResponse(out, 0, corosync.ErrNotExist, cmapwire.Value{})
		return b
	}
	if c.stats && requested != 0 && requested < uint64(v.Len()) && requested <= 1<<20 {
		// The stats map ignores the buffer size (SPEC.md §5a): the answer
		// claims the whole value but carries only what was asked for.
		b, _ := cmapwire.AppendGetResponse(out, 0, corosync.OK, v)
		b = append(b, v.Bytes()[:requested]...)
		wire.PutResponseHeader(b[len(out):], cmapwire.ResGet, corosync.OK)
		return b
	}
	b, err := cmapwire.AppendGetResponse(out, requested, corosync.OK, v)
	switch {
	case errors.Is(err, corosync.ErrInvalidParam):
		b, _ = cmapwire.AppendGetResponse(out, 0, corosync.ErrInvalidParam, cmapwire.Value{})
	case err != nil: // a buffer the mock will not allocate
		b, _ = cmapwire.AppendGetResponse(out, 0, corosync.ErrNoMemory, cmapwire.Value{})
	}
	return b
}

// stored returns v as icmap_set stores it, or false if icmap refuses it
// (exec/icmap.c icmap_check_value_len).
func stored(v cmapwire.Value) (cmapwire.Value, bool) {
	data, t := v.Bytes(), v.Type()
	switch {
	case len(data) > cmapwire.MaxValueLen:
		return v, false
	case t == cmapwire.TypeString:
		n := len(data)
		if i := slices.Index(data, 0); i >= 0 {
			n = i // strlen; without a NUL the daemon reads on into zeros
		}
		if len(data) > n+1 {
			return v, false
		}
		return cmapwire.RawValue(t, append(data[:n:n], 0)), true
	case t == cmapwire.TypeBinary:
		return v, true
	}
	return v, t.Size() == len(data) // unknown types: only without a value
}

func (c *cmapConn) set(key string, v cmapwire.Value) corosync.Error {
	if c.stats {
		switch key {
		case "stats.clear.knet", "stats.clear.ipc", "stats.clear.totem", "stats.clear.all", "stats.clear.schedmiss":
			return corosync.OK
		}
		if strings.HasPrefix(key, "stats.clear.") {
			return corosync.ErrNotSupported
		}
		return corosync.ErrAccess
	}
	if icmapReadOnly(key) {
		return corosync.ErrAccess
	}
	sv, ok := stored(v)
	if !ok {
		return corosync.ErrInvalidParam
	}
	if _, exists := c.n.cmap.icmap.get(key); !exists && cmapwire.CheckKey(key) != nil {
		return corosync.ErrNameTooLong
	}
	c.n.cmapSet(key, sv)
	return corosync.OK
}

func (c *cmapConn) del(key string) corosync.Error {
	if c.stats {
		if strings.HasPrefix(key, "stats.clear.") {
			return corosync.ErrNotSupported
		}
		return corosync.ErrAccess
	}
	if icmapReadOnly(key) {
		return corosync.ErrAccess
	}
	if _, ok := c.n.cmap.icmap.get(key); !ok {
		return corosync.ErrNotExist
	}
	c.n.cmapDelete(key)
	return corosync.OK
}

func (c *cmapConn) adjust(key string, step int32) corosync.Error {
	if c.stats {
		if strings.HasPrefix(key, "stats.clear.") {
			return corosync.ErrNotSupported
		}
		return corosync.ErrAccess
	}
	if icmapReadOnly(key) {
		return corosync.ErrAccess
	}
	v, ok := c.n.cmap.icmap.get(key)
	if !ok {
		return corosync.ErrNotExist
	}
	t := v.Type()
	switch t {
	case cmapwire.TypeFloat, cmapwire.TypeDouble, cmapwire.TypeString, cmapwire.TypeBinary:
		return corosync.ErrInvalidParam
	}
	size := t.Size()
	if size == 0 {
		return corosync.OK // a key of no known type: nothing to adjust
	}
	var x uint64
	b := v.Bytes()
	for i := size - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	x += uint64(int64(step)) // wraps in the key's width below
	nb := make([]byte, size)
	for i := range nb {
		nb[i] = byte(x >> (8 * i))
	}
	c.n.cmapSet(key, cmapwire.RawValue(t, nb))
	return corosync.OK
}
