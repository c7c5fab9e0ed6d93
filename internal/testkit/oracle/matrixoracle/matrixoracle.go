//go:build oracle && linux

// Package matrixoracle drives the C client libraries that every corosync
// release since 2.4 ships (libquorum, libvotequorum, libcfg, libcmap),
// through the calls all of them have, so that one differential test and one
// benchmark run against each daemon of the version matrix with that
// daemon's own libraries. Build it against a daemon's libraries with
// CGO_CFLAGS=-I<prefix>/include and CGO_LDFLAGS="-L<prefix>/lib
// -Wl,-rpath,<prefix>/lib" (the Makefile's oracle-matrix target does), and
// run it with COROSYNC_GO_DAEMON=<name>; the tests check that the
// libraries loaded are that daemon's. Test-only: built only with -tags
// oracle.
package matrixoracle

/*
#cgo LDFLAGS: -lquorum -lvotequorum -lcfg -lcmap -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <corosync/corotypes.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>
#include <corosync/cfg.h>
#include <corosync/cmap.h>

static cs_error_t q_open(quorum_handle_t *h, uint32_t *type) {
	quorum_callbacks_t cb;
	memset(&cb, 0, sizeof(cb));
	return quorum_initialize(h, &cb, type);
}

static cs_error_t vq_open(votequorum_handle_t *h) {
	votequorum_callbacks_t cb;
	memset(&cb, 0, sizeof(cb));
	return votequorum_initialize(h, &cb);
}

// corosync main's libvotequorum has the quorum device extra info calls;
// the releases' libraries do not, so they are looked up at run time.
typedef cs_error_t (*vq_get_ei_fn)(votequorum_handle_t, unsigned int, uint32_t *, void *);
typedef cs_error_t (*vq_set_ei_fn)(votequorum_handle_t, uint32_t, const void *);

static int vq_has_ei(void) {
	return dlsym(RTLD_DEFAULT, "votequorum_get_qdevice_extra_info") != NULL &&
		dlsym(RTLD_DEFAULT, "votequorum_set_qdevice_extra_info") != NULL;
}

static cs_error_t vq_get_ei(votequorum_handle_t h, unsigned int node, uint32_t *size, void *buf) {
	vq_get_ei_fn f = (vq_get_ei_fn)dlsym(RTLD_DEFAULT, "votequorum_get_qdevice_extra_info");
	return f(h, node, size, buf);
}

static cs_error_t vq_set_ei(votequorum_handle_t h, uint32_t size, const void *buf) {
	vq_set_ei_fn f = (vq_set_ei_fn)dlsym(RTLD_DEFAULT, "votequorum_set_qdevice_extra_info");
	return f(h, size, buf);
}

static cs_error_t cfg_open(corosync_cfg_handle_t *h) {
	corosync_cfg_callbacks_t cb;
	memset(&cb, 0, sizeof(cb));
	return corosync_cfg_initialize(h, &cb);
}

// ring_status copies the ring names and statuses into one buffer,
// "name\tstatus\n" per ring, and frees libcfg's arrays.
static cs_error_t cfg_rings(corosync_cfg_handle_t h, char *out, size_t outlen, unsigned int *count) {
	char **names = NULL, **status = NULL;
	cs_error_t e = corosync_cfg_ring_status_get(h, &names, &status, count);
	if (e != CS_OK) {
		return e;
	}
	out[0] = 0;
	for (unsigned int i = 0; i < *count; i++) {
		strncat(out, names[i], outlen - strlen(out) - 1);
		strncat(out, "\t", outlen - strlen(out) - 1);
		strncat(out, status[i], outlen - strlen(out) - 1);
		strncat(out, "\n", outlen - strlen(out) - 1);
		free(names[i]);
		free(status[i]);
	}
	free(names);
	free(status);
	return CS_OK;
}

// cfg_addrs prints node nodeid's addresses, one per line.
static cs_error_t cfg_addrs(corosync_cfg_handle_t h, unsigned int nodeid, char *out, size_t outlen) {
	corosync_cfg_node_address_t a[8];
	int n = 0;
	cs_error_t e = corosync_cfg_get_node_addrs(h, nodeid, 8, &n, a);
	if (e != CS_OK) {
		return e;
	}
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		char buf[INET6_ADDRSTRLEN];
		struct sockaddr *sa = (struct sockaddr *)a[i].address;
		const void *p = sa->sa_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr
		                                          : (const void *)&((struct sockaddr_in *)sa)->sin_addr;
		if (inet_ntop(sa->sa_family, p, buf, sizeof(buf)) == NULL) {
			continue;
		}
		strncat(out, buf, outlen - strlen(out) - 1);
		strncat(out, "\n", outlen - strlen(out) - 1);
	}
	return CS_OK;
}
// cmap_iter_get reads every key with prefix and its value as
// corosync-cmapctl does: cmap_iter_next, then cmap_get offering the length
// it reported (at least 1), and the whole buffer if the value grew. It
// counts the keys read.
static cs_error_t cmap_iter_get(cmap_handle_t h, const char *prefix, unsigned int *count) {
	cmap_iter_handle_t it;
	char key[CMAP_KEYNAME_MAXLEN + 1];
	static char buf[1 << 16];
	size_t len, n;
	cmap_value_types_t t;
	cs_error_t err = cmap_iter_init(h, prefix, &it);
	if (err != CS_OK) {
		return err;
	}
	*count = 0;
	while ((err = cmap_iter_next(h, it, key, &len, &t)) == CS_OK) {
		n = len ? len : 1;
		err = cmap_get(h, key, buf, &n, &t);
		if (err == CS_ERR_INVALID_PARAM) {
			n = sizeof(buf);
			err = cmap_get(h, key, buf, &n, &t);
		}
		if (err == CS_ERR_NOT_EXIST) {
			continue;
		}
		if (err != CS_OK) {
			break;
		}
		(*count)++;
	}
	cmap_iter_finalize(h, it);
	return err == CS_ERR_NO_SECTIONS ? CS_OK : err;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/netns"
)

func code(e C.cs_error_t) error {
	if e == C.CS_OK {
		return nil
	}
	return corosync.Error(e)
}

// Quorum is a libquorum handle (quorum_initialize: the V0 API every
// release has).
type Quorum struct {
	h    C.quorum_handle_t
	Type uint32
}

// OpenQuorum connects libquorum to the daemon of network namespace ns.
func OpenQuorum(ns string) (*Quorum, error) {
	q := new(Quorum)
	var typ C.uint32_t
	err := netns.Do(ns, func() error { return code(C.q_open(&q.h, &typ)) })
	q.Type = uint32(typ)
	return q, err
}

// Quorate calls quorum_getquorate.
func (q *Quorum) Quorate() (bool, error) {
	var v C.int
	err := code(C.quorum_getquorate(q.h, &v))
	return v == 1, err
}

// Close calls quorum_finalize.
func (q *Quorum) Close() { C.quorum_finalize(q.h) }

// Votequorum is a libvotequorum handle.
type Votequorum struct{ h C.votequorum_handle_t }

// OpenVotequorum connects libvotequorum to the daemon of ns.
func OpenVotequorum(ns string) (*Votequorum, error) {
	v := new(Votequorum)
	err := netns.Do(ns, func() error { return code(C.vq_open(&v.h)) })
	return v, err
}

// Info is struct votequorum_info.
type Info struct {
	NodeID, State, Votes, Expected, HighestExpected, TotalVotes, Quorum, Flags, QdeviceVotes uint32
	QdeviceName                                                                              string
}

// Info calls votequorum_getinfo.
func (v *Votequorum) Info(nodeID uint32) (Info, error) {
	var i C.struct_votequorum_info
	if err := code(C.votequorum_getinfo(v.h, C.uint(nodeID), &i)); err != nil {
		return Info{}, err
	}
	return Info{uint32(i.node_id), uint32(i.node_state), uint32(i.node_votes), uint32(i.node_expected_votes),
		uint32(i.highest_expected), uint32(i.total_votes), uint32(i.quorum), uint32(i.flags), uint32(i.qdevice_votes),
		C.GoString(&i.qdevice_name[0])}, nil
}

// HasExtraInfo reports whether the libvotequorum loaded has corosync
// main's quorum device extra info calls.
func HasExtraInfo() bool { return C.vq_has_ei() != 0 }

// ExtraInfo calls votequorum_get_qdevice_extra_info (HasExtraInfo must
// hold). Only for a call the daemon answers with CS_OK: on an error the
// library copies as many bytes as the answer's unset ei_size says.
func (v *Votequorum) ExtraInfo(nodeID uint32) ([]byte, error) {
	buf := make([]byte, 4096+1)
	var size C.uint32_t
	if err := code(C.vq_get_ei(v.h, C.uint(nodeID), &size, unsafe.Pointer(&buf[0]))); err != nil {
		return nil, err
	}
	return buf[:size], nil
}

// SetExtraInfo calls votequorum_set_qdevice_extra_info (HasExtraInfo must
// hold).
func (v *Votequorum) SetExtraInfo(info []byte) error {
	p := C.CBytes(info) // malloc(0) may be NULL: the library's "none"
	defer C.free(p)
	return code(C.vq_set_ei(v.h, C.uint32_t(len(info)), p))
}

// Close calls votequorum_finalize.
func (v *Votequorum) Close() { C.votequorum_finalize(v.h) }

// Cfg is a libcfg handle.
type Cfg struct {
	h   C.corosync_cfg_handle_t
	buf []byte // C output, reused: no Go allocation counts against libcfg
}

// OpenCfg connects libcfg to the daemon of ns.
func OpenCfg(ns string) (*Cfg, error) {
	c := new(Cfg)
	err := netns.Do(ns, func() error { return code(C.cfg_open(&c.h)) })
	return c, err
}

// LocalNodeID calls corosync_cfg_local_get.
func (c *Cfg) LocalNodeID() (uint32, error) {
	var id C.uint
	err := code(C.corosync_cfg_local_get(c.h, &id))
	return uint32(id), err
}

// Ring is one entry of corosync_cfg_ring_status_get.
type Ring struct{ Name, Status string }

// Rings calls corosync_cfg_ring_status_get.
func (c *Cfg) Rings() ([]Ring, error) {
	if c.buf == nil {
		c.buf = make([]byte, 64<<10)
	}
	buf := c.buf
	var n C.uint
	if err := code(C.cfg_rings(c.h, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &n)); err != nil {
		return nil, err
	}
	var out []Ring
	for _, line := range strings.Split(C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), "\n") {
		if name, status, ok := strings.Cut(line, "\t"); ok {
			out = append(out, Ring{name, status})
		}
	}
	if len(out) != int(n) {
		return out, fmt.Errorf("libcfg returned %d rings, parsed %d", n, len(out))
	}
	return out, nil
}

// NodeAddrs calls corosync_cfg_get_node_addrs and prints the addresses.
func (c *Cfg) NodeAddrs(nodeID uint32) ([]string, error) {
	if c.buf == nil {
		c.buf = make([]byte, 64<<10)
	}
	buf := c.buf
	if err := code(C.cfg_addrs(c.h, C.uint(nodeID), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))); err != nil {
		return nil, err
	}
	return strings.Fields(C.GoString((*C.char)(unsafe.Pointer(&buf[0])))), nil
}

// Close calls corosync_cfg_finalize.
func (c *Cfg) Close() { C.corosync_cfg_finalize(c.h) }

// Cmap is a libcmap handle on the main map (cmap_initialize).
type Cmap struct {
	h   C.cmap_handle_t
	buf []byte // the value buffer, reused as a C caller would
}

// OpenCmap connects libcmap to the daemon of ns.
func OpenCmap(ns string) (*Cmap, error) {
	c := new(Cmap)
	err := netns.Do(ns, func() error { return code(C.cmap_initialize(&c.h)) })
	return c, err
}

// Get calls cmap_get with a buffer that holds any value, and returns the
// value's type (cmap_value_types_t) and bytes, valid until the next Get.
func (c *Cmap) Get(key string) (int, []byte, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	if c.buf == nil {
		c.buf = make([]byte, 1<<16)
	}
	buf := c.buf
	n := C.size_t(len(buf))
	var t C.cmap_value_types_t
	if err := code(C.cmap_get(c.h, ck, unsafe.Pointer(&buf[0]), &n, &t)); err != nil {
		return 0, nil, err
	}
	return int(t), buf[:n], nil
}

// IterGet reads every key starting with prefix and its value as
// corosync-cmapctl does (cmap_iter_next, then cmap_get with the length it
// reported), and returns how many keys it read.
func (c *Cmap) IterGet(prefix string) (int, error) {
	cp := C.CString(prefix)
	defer C.free(unsafe.Pointer(cp))
	var n C.uint
	err := code(C.cmap_iter_get(c.h, cp, &n))
	return int(n), err
}

// Close calls cmap_finalize.
func (c *Cmap) Close() { C.cmap_finalize(c.h) }
