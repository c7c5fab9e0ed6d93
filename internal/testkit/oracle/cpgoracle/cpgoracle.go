//go:build oracle && linux

// Package cpgoracle drives C libcpg (through cgo) so tests can compare it
// with our pure-Go cpg code on the same daemon. It is test-only: built only
// with -tags oracle, and never imported by the library.
//
// A Client is one libcpg handle initialised with model V1 and all three
// callbacks; the callbacks queue their arguments as cpgwire.Event values
// (EvDeliver, EvConfchg, EvTotemConfchg), so C and Go observations compare
// directly. libcpg reassembles fragmented messages itself: a PARTIAL_MCAST
// sequence reaches the deliver callback as one EvDeliver.
package cpgoracle

/*
#cgo LDFLAGS: -lcpg
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>

extern void goCPGDeliver(cpg_handle_t h, struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len);
extern void goCPGConfchg(cpg_handle_t h, struct cpg_name *g, struct cpg_address *m, size_t mn, struct cpg_address *l, size_t ln, struct cpg_address *j, size_t jn);
extern void goCPGTotem(cpg_handle_t h, uint32_t nodeid, uint64_t seq, uint32_t n, uint32_t *l);

static void cpgo_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len) {
	goCPGDeliver(h, (struct cpg_name *)g, nodeid, pid, msg, len);
}
static void cpgo_confchg(cpg_handle_t h, const struct cpg_name *g,
		const struct cpg_address *m, size_t mn, const struct cpg_address *l, size_t ln,
		const struct cpg_address *j, size_t jn) {
	goCPGConfchg(h, (struct cpg_name *)g, (struct cpg_address *)m, mn, (struct cpg_address *)l, ln, (struct cpg_address *)j, jn);
}
static void cpgo_totem(cpg_handle_t h, struct cpg_ring_id r, uint32_t n, const uint32_t *l) {
	goCPGTotem(h, r.nodeid, r.seq, n, (uint32_t *)l);
}
// The library copies the model data at initialisation.
static cs_error_t cpgo_init(cpg_handle_t *h, unsigned int flags) {
	cpg_model_v1_data_t d;
	memset(&d, 0, sizeof(d));
	d.model = CPG_MODEL_V1;
	d.cpg_deliver_fn = cpgo_deliver;
	d.cpg_confchg_fn = cpgo_confchg;
	d.cpg_totem_confchg_fn = cpgo_totem;
	d.flags = flags;
	return cpg_model_initialize(h, CPG_MODEL_V1, (cpg_model_data_t *)&d, NULL);
}
static void cpgo_name(struct cpg_name *g, const char *b, uint32_t n) {
	memset(g, 0, sizeof(*g));
	g->length = n;
	memcpy(g->value, b, n);
}
static cs_error_t cpgo_join(cpg_handle_t h, const char *b, uint32_t n) {
	struct cpg_name g; cpgo_name(&g, b, n); return cpg_join(h, &g);
}
static cs_error_t cpgo_leave(cpg_handle_t h, const char *b, uint32_t n) {
	struct cpg_name g; cpgo_name(&g, b, n); return cpg_leave(h, &g);
}
static cs_error_t cpgo_mcast(cpg_handle_t h, unsigned int guarantee, void *b, size_t n) {
	struct iovec iov = { b, n };
	return cpg_mcast_joined(h, guarantee, &iov, 1);
}
static cs_error_t cpgo_membership(cpg_handle_t h, const char *b, uint32_t n, struct cpg_address *list, int *count) {
	struct cpg_name g; cpgo_name(&g, b, n); return cpg_membership_get(h, &g, list, count);
}
*/
import "C"

import (
	"context"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// Client is one libcpg handle.
type Client struct {
	h      C.cpg_handle_t
	mu     sync.Mutex
	events []cpgwire.Event
}

var (
	regMu    sync.Mutex
	registry = map[C.cpg_handle_t]*Client{}
)

func deliver(h C.cpg_handle_t, e cpgwire.Event) {
	regMu.Lock()
	c := registry[h]
	regMu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.events = append(c.events, e)
		c.mu.Unlock()
	}
}

func goName(g *C.struct_cpg_name) cpgwire.Name {
	n := int(g.length)
	if n > cpgwire.MaxNameLen {
		n = cpgwire.MaxNameLen
	}
	return cpgwire.Name(C.GoBytes(unsafe.Pointer(&g.value[0]), C.int(n)))
}

func goAddrs(l *C.struct_cpg_address, n C.size_t) []cpgwire.Address {
	out := make([]cpgwire.Address, int(n))
	if n > 0 {
		for i, a := range unsafe.Slice(l, int(n)) {
			out[i] = cpgwire.Address{NodeID: uint32(a.nodeid), PID: uint32(a.pid), Reason: cpgwire.Reason(a.reason)}
		}
	}
	return out
}

//export goCPGDeliver
func goCPGDeliver(h C.cpg_handle_t, g *C.struct_cpg_name, nodeid, pid C.uint32_t, msg unsafe.Pointer, n C.size_t) {
	p := []byte{}
	if n > 0 {
		p = C.GoBytes(msg, C.int(n))
	}
	deliver(h, cpgwire.Event{ID: cpgwire.EvDeliver, Group: goName(g), NodeID: uint32(nodeid), PID: uint32(pid), Payload: p})
}

//export goCPGConfchg
func goCPGConfchg(h C.cpg_handle_t, g *C.struct_cpg_name, m *C.struct_cpg_address, mn C.size_t, l *C.struct_cpg_address, ln C.size_t, j *C.struct_cpg_address, jn C.size_t) {
	deliver(h, cpgwire.Event{ID: cpgwire.EvConfchg, Group: goName(g), Members: goAddrs(m, mn), Left: goAddrs(l, ln), Joined: goAddrs(j, jn)})
}

//export goCPGTotem
func goCPGTotem(h C.cpg_handle_t, nodeid C.uint32_t, seq C.uint64_t, n C.uint32_t, l *C.uint32_t) {
	members := make([]uint32, int(n))
	if n > 0 {
		copy(members, unsafe.Slice((*uint32)(unsafe.Pointer(l)), int(n)))
	}
	deliver(h, cpgwire.Event{ID: cpgwire.EvTotemConfchg, Ring: cpgwire.RingID{NodeID: uint32(nodeid), Seq: uint64(seq)}, TotemMembers: members})
}

func code(e C.cs_error_t) error {
	if corosync.Error(e) == corosync.OK {
		return nil
	}
	return corosync.Error(e)
}

// Open initialises libcpg (model V1, all callbacks, the given join flags:
// 0 or cpgwire.ModelV1DeliverInitialTotemConf) against the corosync of
// network namespace netnsPath (empty: ours). libqb creates its socket on the
// calling thread, so the thread enters the namespace.
func Open(netnsPath string, flags uint32) (*Client, error) {
	c := &Client{}
	regMu.Lock()
	defer regMu.Unlock()
	if err := netns.Do(netnsPath, func() error { return code(C.cpgo_init(&c.h, C.uint(flags))) }); err != nil {
		return nil, err
	}
	registry[c.h] = c
	return c, nil
}

func cbytes(n cpgwire.Name) (*C.char, func()) {
	p := C.CBytes([]byte(string(n) + "\x00"))
	return (*C.char)(p), func() { C.free(p) }
}

// Join calls cpg_join (libcpg sends getpid() as the pid).
func (c *Client) Join(g cpgwire.Name) error {
	p, free := cbytes(g)
	defer free()
	return code(C.cpgo_join(c.h, p, C.uint32_t(len(g))))
}

// Leave calls cpg_leave.
func (c *Client) Leave(g cpgwire.Name) error {
	p, free := cbytes(g)
	defer free()
	return code(C.cpgo_leave(c.h, p, C.uint32_t(len(g))))
}

// McastJoined calls cpg_mcast_joined with one iovec.
func (c *Client) McastJoined(guarantee cpgwire.Guarantee, payload []byte) error {
	p := C.CBytes(append([]byte{0}, payload...)) // never a zero-size allocation
	defer C.free(p)
	return code(C.cpgo_mcast(c.h, C.uint(guarantee), unsafe.Add(p, 1), C.size_t(len(payload))))
}

// MembershipGet calls cpg_membership_get with room for 384 entries (the
// library copies as many as the daemon sends, whatever the count says).
func (c *Client) MembershipGet(g cpgwire.Name) ([]cpgwire.Address, error) {
	p, free := cbytes(g)
	defer free()
	list := (*C.struct_cpg_address)(C.calloc(cpgwire.MaxMembershipEntries, C.size_t(unsafe.Sizeof(C.struct_cpg_address{}))))
	defer C.free(unsafe.Pointer(list))
	n := C.int(cpgwire.MaxMembershipEntries)
	if err := code(C.cpgo_membership(c.h, p, C.uint32_t(len(g)), list, &n)); err != nil {
		return nil, err
	}
	return goAddrs(list, C.size_t(n)), nil
}

// LocalGet calls cpg_local_get.
func (c *Client) LocalGet() (uint32, error) {
	var id C.uint
	if err := code(C.cpg_local_get(c.h, &id)); err != nil {
		return 0, err
	}
	return uint32(id), nil
}

// MaxAtomicMsgSize calls cpg_max_atomic_msgsize_get.
func (c *Client) MaxAtomicMsgSize() (uint32, error) {
	var n C.uint32_t
	err := code(C.cpg_max_atomic_msgsize_get(c.h, &n))
	return uint32(n), err
}

// Fd calls cpg_fd_get.
func (c *Client) Fd() (int, error) {
	var fd C.int
	err := code(C.cpg_fd_get(c.h, &fd))
	return int(fd), err
}

// Dispatch calls cpg_dispatch(CS_DISPATCH_ALL): every pending event runs its
// callback. CS_ERR_TRY_AGAIN (nothing pending) is not an error.
func (c *Client) Dispatch() error {
	err := code(C.cpg_dispatch(c.h, C.CS_DISPATCH_ALL))
	if err == corosync.ErrTryAgain {
		return nil
	}
	return err
}

// Events returns a copy of the events queued so far.
func (c *Client) Events() []cpgwire.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cpgwire.Event(nil), c.events...)
}

// WaitEvents dispatches until at least n events are queued or ctx ends,
// and returns them all (fewer only with ctx's error).
func (c *Client) WaitEvents(ctx context.Context, n int) ([]cpgwire.Event, error) {
	fd, err := c.Fd()
	if err != nil {
		return nil, err
	}
	for {
		if err := c.Dispatch(); err != nil {
			return c.Events(), err
		}
		if evs := c.Events(); len(evs) >= n {
			return evs, nil
		}
		if err := ctx.Err(); err != nil {
			return c.Events(), err
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		unix.Poll(pfd, int((20 * time.Millisecond).Milliseconds()))
	}
}

// Finalize calls cpg_finalize and forgets the handle.
func (c *Client) Finalize() error {
	err := code(C.cpg_finalize(c.h))
	regMu.Lock()
	delete(registry, c.h)
	regMu.Unlock()
	return err
}

// Take returns the events queued so far and forgets them.
func (c *Client) Take() []cpgwire.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := c.events
	c.events = nil
	return evs
}

// Poll dispatches what is pending, waiting up to d for the connection to
// become readable first, and returns the events taken (see Take).
func (c *Client) Poll(d time.Duration) ([]cpgwire.Event, error) {
	fd, err := c.Fd()
	if err != nil {
		return nil, err
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	unix.Poll(pfd, int(d.Milliseconds()))
	err = c.Dispatch()
	return c.Take(), err
}
