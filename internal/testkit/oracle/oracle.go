//go:build oracle && linux

// Package oracle drives C libquorum (through cgo) so tests can compare it
// with our pure-Go client on the same daemon. It is test-only: built only
// with -tags oracle, and never imported by the library.
package oracle

/*
#cgo LDFLAGS: -lquorum
#include <stdint.h>
#include <corosync/corotypes.h>
#include <corosync/quorum.h>

extern void goV0(quorum_handle_t h, uint32_t q, uint64_t seq, uint32_t n, uint32_t *l);
extern void goV1Quorum(quorum_handle_t h, uint32_t q, uint32_t node, uint64_t seq, uint32_t n, uint32_t *l);
extern void goV1Nodelist(quorum_handle_t h, uint32_t node, uint64_t seq, uint32_t m, uint32_t *ml, uint32_t j, uint32_t *jl, uint32_t l, uint32_t *ll);

static void v0cb(quorum_handle_t h, uint32_t q, uint64_t seq, uint32_t n, uint32_t *l) { goV0(h, q, seq, n, l); }
static void v1q(quorum_handle_t h, uint32_t q, struct quorum_ring_id r, uint32_t n, const uint32_t *l) {
	goV1Quorum(h, q, r.nodeid, r.seq, n, (uint32_t *)l);
}
static void v1n(quorum_handle_t h, struct quorum_ring_id r, uint32_t m, const uint32_t *ml, uint32_t j, const uint32_t *jl, uint32_t l, const uint32_t *ll) {
	goV1Nodelist(h, r.nodeid, r.seq, m, (uint32_t *)ml, j, (uint32_t *)jl, l, (uint32_t *)ll);
}
static cs_error_t init_model(quorum_handle_t *h, int model, uint32_t *type) {
	if (model == 0) {
		quorum_model_v0_data_t d = { QUORUM_MODEL_V0, v0cb };
		return quorum_model_initialize(h, QUORUM_MODEL_V0, (quorum_model_data_t *)&d, type, NULL);
	}
	quorum_model_v1_data_t d = { QUORUM_MODEL_V1, v1q, v1n };
	return quorum_model_initialize(h, QUORUM_MODEL_V1, (quorum_model_data_t *)&d, type, NULL);
}
*/
import "C"

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/testkit/oracle/evq"
)

// Event is a callback invocation, normalised for comparison.
type Event struct {
	Kind    string // "quorum" or "nodelist"
	Quorate bool
	Node    uint32 // ring id node (0 in V0)
	Seq     uint64
	Members []uint32
	Joined  []uint32
	Left    []uint32
}

// String renders the event as the tests log it.
func (e Event) String() string {
	if e.Kind == "nodelist" {
		return fmt.Sprintf("nodelist %x.%x members %v joined %v left %v", e.Node, e.Seq, e.Members, e.Joined, e.Left)
	}
	return fmt.Sprintf("quorum %v %x.%x members %v", e.Quorate, e.Node, e.Seq, e.Members)
}

// Equal compares two events field by field.
func (e Event) Equal(o Event) bool {
	return e.Kind == o.Kind && e.Quorate == o.Quorate && e.Node == o.Node && e.Seq == o.Seq &&
		slices.Equal(e.Members, o.Members) && slices.Equal(e.Joined, o.Joined) && slices.Equal(e.Left, o.Left)
}

// Client is one libquorum handle.
type Client struct {
	h    C.quorum_handle_t
	Type uint32
	// Queue holds the events the callbacks delivered (Take, Len).
	evq.Queue[Event]
}

var (
	regMu    sync.Mutex
	registry = map[C.quorum_handle_t]*Client{}
)

func list(n C.uint32_t, p *C.uint32_t) []uint32 {
	out := make([]uint32, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*uint32)(unsafe.Pointer(p)), int(n)))
	}
	return out
}

func deliver(h C.quorum_handle_t, e Event) {
	regMu.Lock()
	c := registry[h]
	regMu.Unlock()
	if c != nil {
		c.Push(e)
	}
}

//export goV0
func goV0(h C.quorum_handle_t, q C.uint32_t, seq C.uint64_t, n C.uint32_t, l *C.uint32_t) {
	deliver(h, Event{Kind: "quorum", Quorate: q != 0, Seq: uint64(seq), Members: list(n, l)})
}

//export goV1Quorum
func goV1Quorum(h C.quorum_handle_t, q C.uint32_t, node C.uint32_t, seq C.uint64_t, n C.uint32_t, l *C.uint32_t) {
	deliver(h, Event{Kind: "quorum", Quorate: q != 0, Node: uint32(node), Seq: uint64(seq), Members: list(n, l)})
}

//export goV1Nodelist
func goV1Nodelist(h C.quorum_handle_t, node C.uint32_t, seq C.uint64_t, m C.uint32_t, ml *C.uint32_t, j C.uint32_t, jl *C.uint32_t, l C.uint32_t, ll *C.uint32_t) {
	deliver(h, Event{Kind: "nodelist", Node: uint32(node), Seq: uint64(seq), Members: list(m, ml), Joined: list(j, jl), Left: list(l, ll)})
}

func code(e C.cs_error_t) error {
	if corosync.Error(e) == corosync.OK {
		return nil
	}
	return corosync.Error(e)
}

// Open initialises libquorum (model 0 or 1) against the corosync of network
// namespace netns (empty: ours). libqb creates its socket on the calling
// thread, so the thread enters the namespace for the call.
func Open(ns string, model int) (*Client, error) {
	c := &Client{}
	var typ C.uint32_t
	regMu.Lock() // callbacks may fire before we know the handle: hold them
	defer regMu.Unlock()
	err := netns.Do(ns, func() error { return code(C.init_model(&c.h, C.int(model), &typ)) })
	if err != nil {
		return nil, err
	}
	c.Type = uint32(typ)
	registry[c.h] = c
	return c, nil
}

// GetQuorate calls quorum_getquorate.
func (c *Client) GetQuorate() (bool, error) {
	var q C.int
	err := code(C.quorum_getquorate(c.h, &q))
	return q != 0, err
}

// TrackStart calls quorum_trackstart.
func (c *Client) TrackStart(flags uint32) error { return code(C.quorum_trackstart(c.h, C.uint(flags))) }

// TrackStop calls quorum_trackstop.
func (c *Client) TrackStop() error { return code(C.quorum_trackstop(c.h)) }

// Dispatch calls quorum_dispatch with a CS_DISPATCH_* flag.
func (c *Client) Dispatch(flag int) error {
	return code(C.quorum_dispatch(c.h, C.cs_dispatch_flags_t(flag)))
}

// Finalize calls quorum_finalize.
func (c *Client) Finalize() error {
	err := code(C.quorum_finalize(c.h))
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
