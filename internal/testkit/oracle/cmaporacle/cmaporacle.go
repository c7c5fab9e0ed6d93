//go:build oracle

// Package cmaporacle drives C libcmap (through cgo) so tests can compare it
// with the pure-Go cmap codec on the same daemon. It is test-only: built
// only with -tags oracle, and never imported by the library.
//
// Every GET it makes offers a buffer of cmapwire.GetBufferSize bytes, never
// a size-only query: libcmap's cmap_get(h, key, NULL, &len, &type) sends
// one, and on stats.schedmiss.* keys that crashes corosync 3.1.7.
package cmaporacle

/*
#cgo LDFLAGS: -lcmap
#include <stdint.h>
#include <stdlib.h>
#include <corosync/corotypes.h>
#include <corosync/cmap.h>

extern void goCmapNotify(cmap_handle_t h, cmap_track_handle_t th, int32_t event, char *key,
	int ntype, size_t nlen, void *ndata, int otype, size_t olen, void *odata);

static void notify_cb(cmap_handle_t h, cmap_track_handle_t th, int32_t event, const char *key,
	struct cmap_notify_value n, struct cmap_notify_value o, void *user_data) {
	goCmapNotify(h, th, event, (char *)key, n.type, n.len, (void *)n.data, o.type, o.len, (void *)o.data);
}

static cs_error_t track_add(cmap_handle_t h, const char *key, int32_t flags, cmap_track_handle_t *th) {
	return cmap_track_add(h, key, flags, notify_cb, NULL, th);
}

static cs_error_t get_full(cmap_handle_t h, const char *key, void *buf, size_t *len, int *type) {
	cmap_value_types_t t = 0;
	cs_error_t err = cmap_get(h, key, buf, len, &t);
	*type = t;
	return err;
}

static cs_error_t iter_next(cmap_handle_t h, cmap_iter_handle_t it, char *key, size_t *len, int *type) {
	cmap_value_types_t t = 0;
	cs_error_t err = cmap_iter_next(h, it, key, len, &t);
	*type = t;
	return err;
}
*/
import "C"

import (
	"context"
	"sync"
	"unsafe"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/testkit/oracle/evq"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// Event is a notification callback invocation, normalised for comparison.
type Event struct {
	Key   string
	Event cmapwire.TrackFlags // TrackAdd, TrackDelete or TrackModify
	New   cmapwire.Value
	Old   cmapwire.Value
}

// Entry is one key of the map with its value.
type Entry struct {
	Key   string
	Value cmapwire.Value
}

// Client is one libcmap handle.
type Client struct {
	h C.cmap_handle_t
	// Queue holds the events the callbacks delivered (Take, Len).
	evq.Queue[Event]
}

var (
	regMu    sync.Mutex
	registry = map[C.cmap_handle_t]*Client{}
)

func value(t C.int, n C.size_t, p unsafe.Pointer) cmapwire.Value {
	if n == 0 || p == nil {
		return cmapwire.RawValue(cmapwire.ValueType(t), nil)
	}
	return cmapwire.RawValue(cmapwire.ValueType(t), C.GoBytes(p, C.int(n)))
}

//export goCmapNotify
func goCmapNotify(h C.cmap_handle_t, th C.cmap_track_handle_t, event C.int32_t, key *C.char,
	ntype C.int, nlen C.size_t, ndata unsafe.Pointer, otype C.int, olen C.size_t, odata unsafe.Pointer) {
	k := C.GoString(key)
	e := Event{Key: k, Event: cmapwire.TrackFlags(event),
		New: value(ntype, nlen, ndata).WithKey(k), Old: value(otype, olen, odata).WithKey(k)}
	regMu.Lock()
	c := registry[h]
	regMu.Unlock()
	if c != nil {
		c.Push(e)
	}
}

func code(e C.cs_error_t) error {
	if corosync.Error(e) == corosync.OK {
		return nil
	}
	return corosync.Error(e)
}

// Open initialises libcmap on the default map against the corosync of
// network namespace ns (empty: ours). libqb creates its socket on the
// calling thread, so the thread enters the namespace for the call.
func Open(ns string) (*Client, error) { return OpenMap(ns, cmapwire.MapICMap) }

// OpenMap is Open on map m (cmap_initialize_map).
func OpenMap(ns string, m cmapwire.Map) (*Client, error) {
	c := &Client{}
	regMu.Lock()
	defer regMu.Unlock()
	err := netns.Do(ns, func() error { return code(C.cmap_initialize_map(&c.h, C.cmap_map_t(m))) })
	if err != nil {
		return nil, err
	}
	registry[c.h] = c
	return c, nil
}

// Get returns the value of key. It offers libcmap a buffer of
// cmapwire.GetBufferSize bytes (never a size-only query).
func (c *Client) Get(key string) (cmapwire.Value, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	buf := C.malloc(cmapwire.GetBufferSize)
	defer C.free(buf)
	n := C.size_t(cmapwire.GetBufferSize)
	var t C.int
	if err := code(C.get_full(c.h, ck, buf, &n, &t)); err != nil {
		return cmapwire.Value{}, err
	}
	return value(t, n, buf).WithKey(key), nil
}

// GetN returns the value of key offering libcmap an n-byte buffer (n >= 1,
// main map only: the stats map ignores the size), as corosync-cmapctl
// does with the length cmap_iter_next reported. A value larger than n is
// corosync.ErrInvalidParam.
func (c *Client) GetN(key string, n uint64) (cmapwire.Value, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	buf := C.malloc(C.size_t(n))
	defer C.free(buf)
	cn := C.size_t(n)
	var t C.int
	if err := code(C.get_full(c.h, ck, buf, &cn, &t)); err != nil {
		return cmapwire.Value{}, err
	}
	return value(t, cn, buf).WithKey(key), nil
}

// Set calls cmap_set with the value's type and bytes (a string is sent
// with its NUL).
func (c *Client) Set(key string, v cmapwire.Value) error {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	data := v.Bytes()
	p := C.malloc(C.size_t(len(data) + 1)) // never NULL, even for an empty value
	defer C.free(p)
	if len(data) > 0 {
		copy(unsafe.Slice((*byte)(p), len(data)), data)
	}
	return code(C.cmap_set(c.h, ck, p, C.size_t(len(data)), C.cmap_value_types_t(v.Type())))
}

// Delete calls cmap_delete.
func (c *Client) Delete(key string) error {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	return code(C.cmap_delete(c.h, ck))
}

// Inc calls cmap_inc.
func (c *Client) Inc(key string) error {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	return code(C.cmap_inc(c.h, ck))
}

// Dec calls cmap_dec.
func (c *Client) Dec(key string) error {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	return code(C.cmap_dec(c.h, ck))
}

// IterInit calls cmap_iter_init ("" for every key).
func (c *Client) IterInit(prefix string) (uint64, error) {
	var cp *C.char
	if prefix != "" {
		cp = C.CString(prefix)
		defer C.free(unsafe.Pointer(cp))
	}
	var it C.cmap_iter_handle_t
	err := code(C.cmap_iter_init(c.h, cp, &it))
	return uint64(it), err
}

// IterNext calls cmap_iter_next: the key, its value length and type.
// The end is corosync.ErrNoSections.
func (c *Client) IterNext(it uint64) (string, uint64, cmapwire.ValueType, error) {
	var key [C.CMAP_KEYNAME_MAXLEN + 1]C.char
	var n C.size_t
	var t C.int
	if err := code(C.iter_next(c.h, C.cmap_iter_handle_t(it), &key[0], &n, &t)); err != nil {
		return "", 0, 0, err
	}
	return C.GoString(&key[0]), uint64(n), cmapwire.ValueType(t), nil
}

// IterFinalize calls cmap_iter_finalize.
func (c *Client) IterFinalize(it uint64) error {
	return code(C.cmap_iter_finalize(c.h, C.cmap_iter_handle_t(it)))
}

// All returns every key under prefix with its value, in iteration order
// (iteration, then a GET per key, as corosync-cmapctl does). Keys that
// vanish between the two are skipped. Each GET offers a buffer of
// cmapwire.GetBufferSize bytes (Get).
func (c *Client) All(prefix string) ([]Entry, error) { return c.all(prefix, false) }

// AllExact is All with each GET offering the length cmap_iter_next
// reported (at least 1 byte), as corosync-cmapctl does, and a full GET when
// the value grew meanwhile: libcmap's cheapest iterate-and-get. Main map
// only (the stats map ignores the buffer size).
func (c *Client) AllExact(prefix string) ([]Entry, error) { return c.all(prefix, true) }

func (c *Client) all(prefix string, exact bool) ([]Entry, error) {
	it, err := c.IterInit(prefix)
	if err != nil {
		return nil, err
	}
	defer c.IterFinalize(it)
	var out []Entry
	for {
		key, n, _, err := c.IterNext(it)
		if err == corosync.ErrNoSections {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var v cmapwire.Value
		if exact {
			v, err = c.GetN(key, max(n, 1))
			if err == corosync.ErrInvalidParam {
				v, err = c.Get(key)
			}
		} else {
			v, err = c.Get(key)
		}
		if err == corosync.ErrNotExist {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, Entry{Key: key, Value: v})
	}
}

// TrackAdd calls cmap_track_add; the callback queues normalised events.
func (c *Client) TrackAdd(key string, flags cmapwire.TrackFlags) (uint64, error) {
	var ck *C.char
	if key != "" {
		ck = C.CString(key)
		defer C.free(unsafe.Pointer(ck))
	}
	var th C.cmap_track_handle_t
	err := code(C.track_add(c.h, ck, C.int32_t(flags), &th))
	return uint64(th), err
}

// TrackDelete calls cmap_track_delete.
func (c *Client) TrackDelete(th uint64) error {
	return code(C.cmap_track_delete(c.h, C.cmap_track_handle_t(th)))
}

// Dispatch calls cmap_dispatch with a CS_DISPATCH_* flag (1 ONE, 2 ALL,
// 3 BLOCKING, 4 ONE_NONBLOCKING).
func (c *Client) Dispatch(flag int) error {
	return code(C.cmap_dispatch(c.h, C.cs_dispatch_flags_t(flag)))
}

// Finalize calls cmap_finalize.
func (c *Client) Finalize() error {
	err := code(C.cmap_finalize(c.h))
	regMu.Lock()
	delete(registry, c.h)
	regMu.Unlock()
	return err
}

// WaitEvents dispatches (CS_DISPATCH_ALL) until at least n events have
// arrived or ctx ends, then returns them all.
func (c *Client) WaitEvents(ctx context.Context, n int) ([]Event, error) {
	return c.Wait(ctx, n, func() error { return c.Dispatch(2) })
}
