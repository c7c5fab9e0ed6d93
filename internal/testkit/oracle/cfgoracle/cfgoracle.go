//go:build oracle

// Package cfgoracle drives C libcfg (through cgo) so tests can compare it
// with our pure-Go cfg codec on the same daemon. It is test-only: built only
// with -tags oracle, and never imported by the library.
package cfgoracle

/*
#cgo LDFLAGS: -lcfg
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <corosync/corotypes.h>
#include <corosync/cfg.h>

extern void goShutdown(corosync_cfg_handle_t h, uint32_t flags);

static void shutdown_cb(corosync_cfg_handle_t h, corosync_cfg_shutdown_flags_t flags) { goShutdown(h, (uint32_t)flags); }

static cs_error_t init_cfg(corosync_cfg_handle_t *h) {
	corosync_cfg_callbacks_t cb = { shutdown_cb };
	return corosync_cfg_initialize(h, &cb);
}

static char *str_at(char **a, unsigned int i) { return a[i]; }

static void free_strs(char **a, unsigned int n) {
	unsigned int i;
	if (!a) return;
	for (i = 0; i < n; i++) free(a[i]);
	free(a);
}
*/
import "C"

import (
	"net/netip"
	"sync"
	"unsafe"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/wire/cfgwire"
)

// Client is one libcfg handle.
type Client struct {
	h         C.corosync_cfg_handle_t
	mu        sync.Mutex
	shutdowns []cfgwire.ShutdownFlags
}

var (
	regMu    sync.Mutex
	registry = map[C.corosync_cfg_handle_t]*Client{}
)

//export goShutdown
func goShutdown(h C.corosync_cfg_handle_t, flags C.uint32_t) {
	regMu.Lock()
	c := registry[h]
	regMu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.shutdowns = append(c.shutdowns, cfgwire.ShutdownFlags(flags))
		c.mu.Unlock()
	}
}

func code(e C.cs_error_t) error {
	if corosync.Error(e) == corosync.OK {
		return nil
	}
	return corosync.Error(e)
}

// Open initialises libcfg against the corosync of network namespace ns
// (empty: ours), with a shutdown callback that records its flags (see
// Shutdowns). libqb creates its socket on the calling thread, so the thread
// enters the namespace for the call.
func Open(ns string) (*Client, error) {
	c := &Client{}
	regMu.Lock()
	defer regMu.Unlock()
	if err := netns.Do(ns, func() error { return code(C.init_cfg(&c.h)) }); err != nil {
		return nil, err
	}
	registry[c.h] = c
	return c, nil
}

// Shutdowns returns and forgets the flags of the shutdown callbacks
// received so far, oldest first.
func (c *Client) Shutdowns() []cfgwire.ShutdownFlags {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.shutdowns
	c.shutdowns = nil
	return s
}

// LocalGet calls corosync_cfg_local_get.
func (c *Client) LocalGet() (uint32, error) {
	var id C.uint
	err := code(C.corosync_cfg_local_get(c.h, &id))
	return uint32(id), err
}

func cfield(p *C.char, n int) string {
	b := C.GoBytes(unsafe.Pointer(p), C.int(n))
	for i, x := range b {
		if x == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// NodeStatusGet calls corosync_cfg_node_status_get(V1) and returns the
// struct normalised to cfgwire's type.
func (c *Client) NodeStatusGet(nodeid uint32) (cfgwire.NodeStatus, error) {
	var ns C.struct_corosync_cfg_node_status_v1
	if err := code(C.corosync_cfg_node_status_get(c.h, C.uint(nodeid), C.CFG_NODE_STATUS_V1, unsafe.Pointer(&ns))); err != nil {
		return cfgwire.NodeStatus{}, err
	}
	out := cfgwire.NodeStatus{
		Version:   uint32(ns.version),
		NodeID:    uint32(ns.nodeid),
		Reachable: ns.reachable != 0,
		Remote:    ns.remote != 0,
		External:  ns.external != 0,
		OnwireMin: uint8(ns.onwire_min),
		OnwireMax: uint8(ns.onwire_max),
		OnwireVer: uint8(ns.onwire_ver),
	}
	for i := range out.Links {
		l := &ns.link_status[i]
		out.Links[i] = cfgwire.LinkStatus{
			Enabled:      l.enabled != 0,
			Connected:    l.connected != 0,
			DynConnected: l.dynconnected != 0,
			MTU:          uint32(l.mtu),
			Src:          cfield(&l.src_ipaddr[0], len(l.src_ipaddr)),
			Dst:          cfield(&l.dst_ipaddr[0], len(l.dst_ipaddr)),
		}
	}
	return out, nil
}

// RingStatusGet calls corosync_cfg_ring_status_get (which never looks at
// the reply's error code).
func (c *Client) RingStatusGet() ([]cfgwire.RingInterface, error) {
	var names, status **C.char
	var n C.uint
	if err := code(C.corosync_cfg_ring_status_get(c.h, &names, &status, &n)); err != nil {
		return nil, err
	}
	defer C.free_strs(names, n)
	defer C.free_strs(status, n)
	out := make([]cfgwire.RingInterface, int(n))
	for i := range out {
		out[i] = cfgwire.RingInterface{Name: C.GoString(C.str_at(names, C.uint(i))), Status: C.GoString(C.str_at(status, C.uint(i)))}
	}
	return out, nil
}

// GetNodeAddrs calls corosync_cfg_get_node_addrs with room for 8
// addresses and returns the ones whose family is set (as corosync-cfgtool
// prints them) and the count the daemon reported.
func (c *Client) GetNodeAddrs(nodeid uint32) ([]netip.Addr, int, error) {
	var addrs [8]C.corosync_cfg_node_address_t
	var n C.int
	err := code(C.corosync_cfg_get_node_addrs(c.h, C.uint(nodeid), C.size_t(len(addrs)), &n, &addrs[0]))
	if err != nil {
		return nil, int(n), err
	}
	var out []netip.Addr
	for i := 0; i < min(int(n), len(addrs)); i++ {
		b := C.GoBytes(unsafe.Pointer(&addrs[i].address[0]), C.int(len(addrs[i].address)))
		switch fam := *(*uint16)(unsafe.Pointer(&b[0])); fam {
		case C.AF_INET:
			out = append(out, netip.AddrFrom4([4]byte(b[4:8])))
		case C.AF_INET6:
			out = append(out, netip.AddrFrom16([16]byte(b[8:24])))
		}
	}
	return out, int(n), nil
}

// KillNode calls corosync_cfg_kill_node.
func (c *Client) KillNode(nodeid uint32, reason string) error {
	cs := C.CString(reason)
	defer C.free(unsafe.Pointer(cs))
	return code(C.corosync_cfg_kill_node(c.h, C.uint(nodeid), cs))
}

// TryShutdown calls corosync_cfg_try_shutdown; it blocks until the daemon
// decides.
func (c *Client) TryShutdown(flags cfgwire.ShutdownFlags) error {
	return code(C.corosync_cfg_try_shutdown(c.h, C.corosync_cfg_shutdown_flags_t(flags)))
}

// ReplyToShutdown calls corosync_cfg_replyto_shutdown (which returns only
// the IPC result, not the daemon's answer).
func (c *Client) ReplyToShutdown(r cfgwire.ShutdownReply) error {
	return code(C.corosync_cfg_replyto_shutdown(c.h, C.corosync_cfg_shutdown_reply_flags_t(r)))
}

// TrackStart calls corosync_cfg_trackstart.
func (c *Client) TrackStart(flags uint8) error {
	return code(C.corosync_cfg_trackstart(c.h, C.uint8_t(flags)))
}

// TrackStop calls corosync_cfg_trackstop.
func (c *Client) TrackStop() error { return code(C.corosync_cfg_trackstop(c.h)) }

// ReloadConfig calls corosync_cfg_reload_config.
func (c *Client) ReloadConfig() error { return code(C.corosync_cfg_reload_config(c.h)) }

// ReopenLogFiles calls corosync_cfg_reopen_log_files.
func (c *Client) ReopenLogFiles() error { return code(C.corosync_cfg_reopen_log_files(c.h)) }

// Dispatch calls corosync_cfg_dispatch with a CS_DISPATCH_* flag.
func (c *Client) Dispatch(flag int) error {
	return code(C.corosync_cfg_dispatch(c.h, C.cs_dispatch_flags_t(flag)))
}

// Fd calls corosync_cfg_fd_get.
func (c *Client) Fd() (int, error) {
	var fd C.int32_t
	err := code(C.corosync_cfg_fd_get(c.h, &fd))
	return int(fd), err
}

// Finalize calls corosync_cfg_finalize.
func (c *Client) Finalize() error {
	err := code(C.corosync_cfg_finalize(c.h))
	regMu.Lock()
	delete(registry, c.h)
	regMu.Unlock()
	return err
}

// NodeStatusRaw calls corosync_cfg_node_status_get(V1) into st and returns
// only its result: the C call alone, with no Go conversion (for benchmarks).
func (c *Client) NodeStatusRaw(nodeid uint32, st *NodeStatusBuf) error {
	return code(C.corosync_cfg_node_status_get(c.h, C.uint(nodeid), C.CFG_NODE_STATUS_V1, unsafe.Pointer(&st.s)))
}

// NodeStatusBuf is a reusable C struct corosync_cfg_node_status_v1.
type NodeStatusBuf struct {
	s C.struct_corosync_cfg_node_status_v1
}
