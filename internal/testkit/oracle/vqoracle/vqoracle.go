//go:build oracle

// Package vqoracle drives C libvotequorum (through cgo) so tests can compare
// it with our pure-Go votequorum code on the same daemon. It is test-only:
// built only with -tags oracle, and never imported by the library.
//
// Corosync 3.1.7's libvotequorum has no qdevice_getinfo call: a node's
// qdevice state is in GetInfo's answer.
package vqoracle

/*
#cgo LDFLAGS: -lvotequorum
#include <stdint.h>
#include <stdlib.h>
#include <corosync/corotypes.h>
#include <corosync/votequorum.h>

extern void goVQQuorum(votequorum_handle_t h, uint64_t ctx, uint32_t q, uint32_t n, votequorum_node_t *l);
extern void goVQExpected(votequorum_handle_t h, uint64_t ctx, uint32_t ev);
extern void goVQNodelist(votequorum_handle_t h, uint64_t ctx, uint32_t node, uint64_t seq, uint32_t n, uint32_t *l);

static void vq_quorum(votequorum_handle_t h, uint64_t c, uint32_t q, uint32_t n, votequorum_node_t l[]) { goVQQuorum(h, c, q, n, l); }
static void vq_expected(votequorum_handle_t h, uint64_t c, uint32_t e) { goVQExpected(h, c, e); }
static void vq_nodelist(votequorum_handle_t h, uint64_t c, votequorum_ring_id_t r, uint32_t n, uint32_t l[]) {
	goVQNodelist(h, c, r.nodeid, r.seq, n, l);
}
// The library copies the callbacks at initialisation.
static cs_error_t vq_init(votequorum_handle_t *h) {
	votequorum_callbacks_t cb = { vq_quorum, vq_expected, vq_nodelist };
	return votequorum_initialize(h, &cb);
}
static cs_error_t vq_poll(votequorum_handle_t h, const char *name, unsigned int cast, uint32_t node, uint64_t seq) {
	votequorum_ring_id_t r = { node, seq };
	return votequorum_qdevice_poll(h, name, cast, r);
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
	"github.com/corosync-go/corosync/internal/wire/vqwire"
)

// Event is a callback invocation, normalised for comparison.
type Event struct {
	Kind          string // "quorum", "expectedvotes" or "nodelist"
	Context       uint64
	Quorate       bool
	Nodes         []vqwire.Node
	ExpectedVotes uint32
	Ring          vqwire.RingID
	Members       []uint32
}

// FromWire normalises a decoded wire event as the C library's callback
// would report it. Unknown events have Kind "".
func FromWire(e vqwire.Event) Event {
	switch e.ID {
	case vqwire.EvQuorum:
		return Event{Kind: "quorum", Context: e.Context, Quorate: e.Quorate, Nodes: e.Nodes}
	case vqwire.EvExpectedVotes:
		return Event{Kind: "expectedvotes", Context: e.Context, ExpectedVotes: e.ExpectedVotes}
	case vqwire.EvNodelist:
		return Event{Kind: "nodelist", Context: e.Context, Ring: e.Ring, Members: e.Members}
	}
	return Event{}
}

// String renders the event as the tests log it.
func (e Event) String() string {
	switch e.Kind {
	case "quorum":
		return fmt.Sprintf("quorum ctx %#x quorate %v nodes %v", e.Context, e.Quorate, e.Nodes)
	case "expectedvotes":
		return fmt.Sprintf("expectedvotes ctx %#x %d", e.Context, e.ExpectedVotes)
	}
	return fmt.Sprintf("nodelist ctx %#x ring %x.%x members %v", e.Context, e.Ring.NodeID, e.Ring.Seq, e.Members)
}

// Equal compares two events field by field (nil and empty lists are equal).
func (e Event) Equal(o Event) bool {
	return e.Kind == o.Kind && e.Context == o.Context && e.Quorate == o.Quorate && slices.Equal(e.Nodes, o.Nodes) &&
		e.ExpectedVotes == o.ExpectedVotes && e.Ring == o.Ring && slices.Equal(e.Members, o.Members)
}

// Client is one libvotequorum handle.
type Client struct {
	h C.votequorum_handle_t
	// Queue holds the events the callbacks delivered (Take, Len).
	evq.Queue[Event]
}

var (
	regMu    sync.Mutex
	registry = map[C.votequorum_handle_t]*Client{}
)

func deliver(h C.votequorum_handle_t, e Event) {
	regMu.Lock()
	c := registry[h]
	regMu.Unlock()
	if c != nil {
		c.Push(e)
	}
}

//export goVQQuorum
func goVQQuorum(h C.votequorum_handle_t, ctx C.uint64_t, q C.uint32_t, n C.uint32_t, l *C.votequorum_node_t) {
	nodes := make([]vqwire.Node, int(n))
	if n > 0 {
		for i, cn := range unsafe.Slice(l, int(n)) {
			nodes[i] = vqwire.Node{NodeID: uint32(cn.nodeid), State: vqwire.NodeState(cn.state)}
		}
	}
	deliver(h, Event{Kind: "quorum", Context: uint64(ctx), Quorate: q != 0, Nodes: nodes})
}

//export goVQExpected
func goVQExpected(h C.votequorum_handle_t, ctx C.uint64_t, ev C.uint32_t) {
	deliver(h, Event{Kind: "expectedvotes", Context: uint64(ctx), ExpectedVotes: uint32(ev)})
}

//export goVQNodelist
func goVQNodelist(h C.votequorum_handle_t, ctx C.uint64_t, node C.uint32_t, seq C.uint64_t, n C.uint32_t, l *C.uint32_t) {
	members := make([]uint32, int(n))
	if n > 0 {
		copy(members, unsafe.Slice((*uint32)(unsafe.Pointer(l)), int(n)))
	}
	deliver(h, Event{Kind: "nodelist", Context: uint64(ctx), Ring: vqwire.RingID{NodeID: uint32(node), Seq: uint64(seq)}, Members: members})
}

func code(e C.cs_error_t) error {
	if corosync.Error(e) == corosync.OK {
		return nil
	}
	return corosync.Error(e)
}

// Open initialises libvotequorum against the corosync of network namespace
// ns (empty: ours), with the three callbacks registered. libqb creates its
// socket on the calling thread, so the thread enters the namespace.
func Open(ns string) (*Client, error) {
	c := &Client{}
	regMu.Lock() // callbacks cannot fire before dispatch, but keep it simple
	defer regMu.Unlock()
	if err := netns.Do(ns, func() error { return code(C.vq_init(&c.h)) }); err != nil {
		return nil, err
	}
	registry[c.h] = c
	return c, nil
}

// GetInfo calls votequorum_getinfo. On error it returns a zero Info (the
// library copies the error reply's uninitialised body).
func (c *Client) GetInfo(nodeid uint32) (vqwire.Info, error) {
	var i C.struct_votequorum_info
	if err := code(C.votequorum_getinfo(c.h, C.uint(nodeid), &i)); err != nil {
		return vqwire.Info{}, err
	}
	return vqwire.Info{
		NodeID:            uint32(i.node_id),
		State:             vqwire.NodeState(i.node_state),
		NodeVotes:         uint32(i.node_votes),
		NodeExpectedVotes: uint32(i.node_expected_votes),
		HighestExpected:   uint32(i.highest_expected),
		TotalVotes:        uint32(i.total_votes),
		Quorum:            uint32(i.quorum),
		Flags:             vqwire.Flags(i.flags),
		QdeviceVotes:      uint32(i.qdevice_votes),
		QdeviceName:       C.GoStringN(&i.qdevice_name[0], C.int(cstrlen(i.qdevice_name[:]))),
	}, nil
}

func cstrlen(b []C.char) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// SetExpected calls votequorum_setexpected.
func (c *Client) SetExpected(n uint32) error {
	return code(C.votequorum_setexpected(c.h, C.uint(n)))
}

// SetVotes calls votequorum_setvotes.
func (c *Client) SetVotes(nodeid, votes uint32) error {
	return code(C.votequorum_setvotes(c.h, C.uint(nodeid), C.uint(votes)))
}

// TrackStart calls votequorum_trackstart.
func (c *Client) TrackStart(context uint64, flags uint32) error {
	return code(C.votequorum_trackstart(c.h, C.uint64_t(context), C.uint(flags)))
}

// TrackStop calls votequorum_trackstop.
func (c *Client) TrackStop() error { return code(C.votequorum_trackstop(c.h)) }

// Dispatch calls votequorum_dispatch with a CS_DISPATCH_* flag.
func (c *Client) Dispatch(flag int) error {
	return code(C.votequorum_dispatch(c.h, C.cs_dispatch_flags_t(flag)))
}

// Fd calls votequorum_fd_get.
func (c *Client) Fd() (int, error) {
	var fd C.int
	err := code(C.votequorum_fd_get(c.h, &fd))
	return int(fd), err
}

func withName(name string, fn func(*C.char) C.cs_error_t) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return code(fn(cs))
}

func b2u(v bool) C.uint {
	if v {
		return 1
	}
	return 0
}

// Register calls votequorum_qdevice_register.
func (c *Client) Register(name string) error {
	return withName(name, func(n *C.char) C.cs_error_t { return C.votequorum_qdevice_register(c.h, n) })
}

// Unregister calls votequorum_qdevice_unregister.
func (c *Client) Unregister(name string) error {
	return withName(name, func(n *C.char) C.cs_error_t { return C.votequorum_qdevice_unregister(c.h, n) })
}

// Update calls votequorum_qdevice_update.
func (c *Client) Update(oldName, newName string) error {
	return withName(oldName, func(o *C.char) C.cs_error_t {
		nn := C.CString(newName)
		defer C.free(unsafe.Pointer(nn))
		return C.votequorum_qdevice_update(c.h, o, nn)
	})
}

// Poll calls votequorum_qdevice_poll.
func (c *Client) Poll(name string, castVote bool, ring vqwire.RingID) error {
	return withName(name, func(n *C.char) C.cs_error_t {
		return C.vq_poll(c.h, n, b2u(castVote), C.uint32_t(ring.NodeID), C.uint64_t(ring.Seq))
	})
}

// MasterWins calls votequorum_qdevice_master_wins.
func (c *Client) MasterWins(name string, allow bool) error {
	return withName(name, func(n *C.char) C.cs_error_t { return C.votequorum_qdevice_master_wins(c.h, n, b2u(allow)) })
}

// Finalize calls votequorum_finalize.
func (c *Client) Finalize() error {
	err := code(C.votequorum_finalize(c.h))
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
