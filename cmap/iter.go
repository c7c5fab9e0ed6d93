package cmap

import (
	"context"
	"iter"
	"strings"
	"sync"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// Entry is one key found by an iteration.
type Entry struct {
	Key string
	// Type and Len are the key's type and value length as ITER_NEXT
	// reports them (a string counts its NUL; the stats map reports 0 for
	// its string keys).
	Type ValueType
	Len  uint64
	// Value is the key's value: set by IterValues, zero from Iter.
	Value Value
}

// Iter iterates over the keys starting with prefix ("" for every key), in
// the daemon's order, which is byte order (cmap_iter_init, cmap_iter_next,
// cmap_iter_finalize): one round trip per key. An error is yielded once, as
// the last pair; the end of the keys is not an error.
//
// The daemon's iterator is finalised when the loop ends, also when it ends
// early (break) or ctx ends. A lost connection ends the iteration with its
// error (the daemon drops the iterator with the connection). Keys created or
// deleted during the iteration may or may not be seen.
//
// # corosync 2.x
//
// corosync 2.x keeps a runtime.connections.<name>:<pid>:<ptr>.* entry per
// IPC connection, and crashes (SIGSEGV) when an iterator stands on one of
// those keys while connections come and go. On a daemon older than 3.0
// (DaemonVersion), Iter therefore never lets the daemon's iterator enter
// runtime.connections. of the main map:
//
//   - A prefix that covers that subtree ("", "runtime.", "runtime.conn",
//     ...) is walked around it: the keys on the path to it (such as a key
//     named exactly "runtime") are read with GET, and every sibling branch
//     is iterated with its own, narrower prefix (one per key character at
//     each of the path's 20 positions), in byte order. What is listed is
//     the prefix's keys outside runtime.connections., plus the two
//     counters runtime.connections.active and runtime.connections.closed,
//     read with GET, in their places: the per-connection entries
//     runtime.connections.<name>:<pid>:<ptr>.* are not listed.
//   - A prefix inside runtime.connections. lists only those of the two
//     counters that start with it.
//
// Walking around costs about 1300 iterators of one or no key each (three
// round trips apiece), a few tens of milliseconds for the whole map where
// one iterator takes about one millisecond: on 2.x, iterate the prefixes
// you need (totem., runtime.totem.pg., ...), which cost nothing extra. A
// daemon of 3.0 or later keeps the connections in the stats map, whose
// iteration is safe, and is iterated as asked.
//
//	for e, err := range c.Iter(ctx, "totem.") {
//		if err != nil {
//			return err
//		}
//		fmt.Println(e.Key, e.Type)
//	}
func (c *Client) Iter(ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) { c.iterate(ctx, prefix, false, yield) }
}

// IterValues is Iter with each key's value read too (a GET per key, as
// corosync-cmapctl does). A key deleted between the two is skipped. On
// corosync 2.x it lists what Iter lists (see there).
//
// The requests are pipelined on the client's connection: each batch sends
// the GETs of the keys found so far and the ITER_NEXTs of the next ones (1,
// 2, 4, then 8), and then reads all their answers, so the daemon's iterator
// runs up to 8 keys ahead of the loop. A whole-map read waits for the
// daemon about 20 times instead of about 260.
func (c *Client) IterValues(ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) { c.iterate(ctx, prefix, true, yield) }
}

// Where corosync 2.x keeps its IPC connections in the main map: one
// runtime.connections.<name>:<pid>:<ptr>.* entry per connection beside the
// two counters, which live as long as the daemon (exec/ipc_glue.c).
const connPrefix2x = "runtime.connections."

var connCounters2x = [...]string{"runtime.connections.active", "runtime.connections.closed"}

// keyChars are the bytes a key may hold, in byte order (the daemon's
// iteration order: a trie whose children are visited by ascending byte).
var keyChars = func() []byte {
	var cs []byte
	for c := 0; c < 256; c++ {
		if cmapwire.ValidKeyChar(byte(c)) {
			cs = append(cs, byte(c))
		}
	}
	return cs
}()

// iteration is one Iter or IterValues loop.
type iteration struct {
	c      *Client
	ctx    context.Context
	conn   *session.Conn
	values bool
	b      *bufs
	yield  func(Entry, error) bool
}

func (c *Client) iterate(ctx context.Context, prefix string, values bool, yield func(Entry, error) bool) {
	b := getBufs()
	defer putBufs(b)
	if _, err := cmapwire.AppendIterInit(b.req[:0], prefix); err != nil {
		yield(Entry{}, pubErr(err))
		return
	}
	if err := ctx.Err(); err != nil {
		yield(Entry{}, corosync.NewError("cmap iter_init", corosync.ErrTimeout, err))
		return
	}
	conn, err := c.s.Current()
	if err != nil {
		yield(Entry{}, err)
		return
	}
	it := iteration{c: c, ctx: ctx, conn: conn, values: values, b: b, yield: yield}
	if c.m == MapICMap && !c.DaemonVersion().AtLeast(corosync.Version3_0) {
		switch {
		case strings.HasPrefix(prefix, connPrefix2x):
			it.counters2x(prefix)
			return
		case strings.HasPrefix(connPrefix2x, prefix):
			it.around2x(len(prefix), prefix)
			return
		}
	}
	it.walk(prefix)
}

// around2x lists the keys starting with prefix (a prefix of connPrefix2x
// no longer than i) outside connPrefix2x, in byte order, without an
// iterator ever entering connPrefix2x: the key connPrefix2x[:i] itself,
// the branches below it whose next byte sorts before connPrefix2x[i], the
// path's next step, and the branches after it.
func (it *iteration) around2x(i int, prefix string) bool {
	r := connPrefix2x[:i]
	if len(r) >= cmapwire.MinKeyLen && !it.exact(r) {
		return false
	}
	next := connPrefix2x[i]
	for _, ch := range keyChars {
		if ch >= next {
			break
		}
		if !it.walk(r + string(ch)) {
			return false
		}
	}
	if i+1 < len(connPrefix2x) {
		if !it.around2x(i+1, prefix) {
			return false
		}
	} else if !it.counters2x(prefix) {
		return false
	}
	for _, ch := range keyChars {
		if ch > next && !it.walk(r+string(ch)) {
			return false
		}
	}
	return true
}

// counters2x lists the 2.x connection counters that start with prefix.
func (it *iteration) counters2x(prefix string) bool {
	for _, k := range connCounters2x {
		if strings.HasPrefix(k, prefix) && !it.exact(k) {
			return false
		}
	}
	return true
}

// exact lists key, read with GET, if it exists.
func (it *iteration) exact(key string) bool {
	if err := it.ctx.Err(); err != nil {
		it.yield(Entry{}, corosync.NewError("cmap get", corosync.ErrTimeout, err))
		return false
	}
	req, err := cmapwire.AppendGet(it.b.req[:0], key)
	if err != nil {
		it.yield(Entry{}, pubErr(err))
		return false
	}
	g, err := it.c.call(it.ctx, it.conn, cmapwire.ReqGet, key, req, it.b.resp[:0])
	switch {
	case corosync.Code(err) == corosync.ErrNotExist:
		return true
	case err != nil:
		it.yield(Entry{}, err)
		return false
	}
	e := Entry{Key: key, Type: ValueType(g.Value.Type()), Len: uint64(g.Value.Len())}
	if it.values {
		e.Value = Value{g.Value.WithKey(key)}
	}
	return it.yield(e, nil)
}

// walk lists the keys starting with prefix with one daemon iterator. It
// reports whether the loop goes on (false once yield said stop or an error
// was yielded).
func (it *iteration) walk(prefix string) bool {
	c, b, conn, ctx := it.c, it.b, it.conn, it.ctx
	if err := ctx.Err(); err != nil {
		it.yield(Entry{}, corosync.NewError("cmap iter_init", corosync.ErrTimeout, err))
		return false
	}
	req, err := cmapwire.AppendIterInit(b.req[:0], prefix)
	if err != nil {
		it.yield(Entry{}, pubErr(err))
		return false
	}
	// The ITER_INIT's answer is read whatever ctx says (else the daemon
	// keeps an iterator nobody finalises), and its first ITER_NEXT follows
	// it with no other request in between.
	c.reqMu.Lock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedWait)
	r, err := call(dctx, conn, cmapwire.ReqIterInit, prefix, req, b.resp[:0])
	cancel()
	if err != nil {
		c.reqMu.Unlock()
		it.yield(Entry{}, err)
		return false
	}
	h := r.Handle
	if testHookIter != nil {
		testHookIter(h)
	}
	defer c.finalize(conn, h)
	n, err := call(ctx, conn, cmapwire.ReqIterNext, prefix, cmapwire.AppendIterNext(b.req[:0], h), b.resp[:0])
	c.reqMu.Unlock()
	if it.values {
		return it.walkValues(prefix, h, n, err)
	}
	for {
		if err == nil && testHookNext != nil {
			testHookNext(n.Key)
		}
		if err != nil {
			if corosync.Code(err) != corosync.ErrNoSections {
				it.yield(Entry{}, err)
				return false
			}
			return true
		}
		if !it.yield(Entry{Key: n.Key, Type: ValueType(n.Type), Len: n.ValueLen}, nil) {
			return false
		}
		n, err = c.call(ctx, conn, cmapwire.ReqIterNext, prefix, cmapwire.AppendIterNext(b.req[:0], h), b.resp[:0])
	}
}

// pipeDepth is how many keys IterValues reads ahead at most: the GETs of
// up to pipeDepth keys and the ITER_NEXTs of as many more go out in one
// batch (session.Conn.Batch), one wait for all their answers.
var pipeDepth = 8

// walkValues is walk for IterValues, from the answer (n, err) to iterator
// h's first ITER_NEXT. Requests are pipelined on the connection: each
// batch holds the GETs of the keys found so far and the ITER_NEXTs of the
// next keys, 1, 2, 4, then pipeDepth of them while the iterator has keys
// (a prefix of one key, as the 2.x walk-around makes many, costs one
// ITER_NEXT past its end, as without pipelining). The iterator runs ahead
// of the loop by at most pipeDepth keys; a break leaves it there, and
// walk finalises it.
//
// On the main map the GETs offer the length ITER_NEXT reported (at least
// 1), as libcmap callers do: the answer is 40+n bytes, not the 16 KiB of a
// GET that holds any value, and the daemon refuses a buffer too small
// (CS_ERR_INVALID_PARAM) should the value have grown since, which the full
// GET then reads. The stats map ignores the buffer size (a smaller one is
// overrun, SPEC.md §5(a)) and reports 0 for its strings: it always gets
// the full buffer.
func (it *iteration) walkValues(prefix string, h uint64, n cmapwire.Response, err error) bool {
	pb := getPipeBufs()
	defer putPipeBufs(pb)
	var keys []cmapwire.Response // found, value not read yet
	keys = append(pb.keys[:0], n)
	var iterErr error // how the iterator ended; nil while it has keys
	if err == nil && testHookNext != nil {
		testHookNext(n.Key)
	}
	if err != nil {
		keys, iterErr = keys[:0], err
	}
	ahead := 1
	for len(keys) > 0 {
		calls := pb.calls[:0]
		for i, k := range keys {
			var req []byte
			cp := cmapwire.GetResponseSize + cmapwire.GetBufferSize + 7
			if it.c.m == MapICMap && k.ValueLen < cmapwire.GetBufferSize {
				req, _ = cmapwire.AppendGetN(pb.req[i][:0], k.Key, max(k.ValueLen, 1)) // the daemon's own key
				cp = cmapwire.GetResponseSize + int(max(k.ValueLen, 1)) + 7
			} else {
				req, _ = cmapwire.AppendGet(pb.req[i][:0], k.Key)
			}
			calls = append(calls, session.BatchCall{Op: ops[cmapwire.ReqGet], Req: req,
				Want: cmapwire.ResponseFor(cmapwire.ReqGet), Resp: pb.resp[i][:0:cp]})
		}
		next := 0
		if iterErr == nil {
			next = min(ahead, pipeDepth)
			ahead *= 2
		}
		for j := 0; j < next; j++ {
			calls = append(calls, session.BatchCall{Op: ops[cmapwire.ReqIterNext],
				Req:  cmapwire.AppendIterNext(pb.nreq[j][:0], h),
				Want: cmapwire.ResponseFor(cmapwire.ReqIterNext), Resp: pb.nresp[j][:0]})
		}
		it.c.reqMu.Lock()
		it.conn.Batch(it.ctx, calls)
		it.c.reqMu.Unlock()
		// The next keys first: their answers are copies, and a full GET
		// below reuses the first GET buffer only.
		found := pb.found[:0]
		for j := 0; j < next && iterErr == nil; j++ {
			r, err := decodeCall(it.conn, cmapwire.ReqIterNext, prefix, &calls[len(keys)+j])
			if err != nil {
				iterErr = err
				break
			}
			if testHookNext != nil {
				testHookNext(r.Key)
			}
			found = append(found, r)
		}
		for i, k := range keys {
			g, gerr := decodeCall(it.conn, cmapwire.ReqGet, k.Key, &calls[i])
			if corosync.Code(gerr) == corosync.ErrInvalidParam && it.c.m == MapICMap && k.ValueLen < cmapwire.GetBufferSize {
				req, _ := cmapwire.AppendGet(it.b.req[:0], k.Key)
				g, gerr = it.c.call(it.ctx, it.conn, cmapwire.ReqGet, k.Key, req, it.b.resp[:0])
			}
			switch {
			case corosync.Code(gerr) == corosync.ErrNotExist: // deleted since
			case gerr != nil:
				it.yield(Entry{}, gerr)
				return false
			default:
				v := Value{g.Value.WithKey(k.Key)}
				if !it.yield(Entry{Key: k.Key, Type: v.Type(), Len: k.ValueLen, Value: v}, nil) {
					return false
				}
			}
		}
		keys = append(keys[:0], found...)
	}
	if corosync.Code(iterErr) != corosync.ErrNoSections {
		it.yield(Entry{}, iterErr)
		return false
	}
	return true
}

// decodeCall is call's second half for one call of a batch.
func decodeCall(conn *session.Conn, id int32, key string, bc *session.BatchCall) (cmapwire.Response, error) {
	if bc.Err != nil {
		return cmapwire.Response{}, withKey(bc.Err, key)
	}
	r, err := cmapwire.DecodeResponse(bc.Out, id)
	if err != nil {
		conn.Close()
		return r, withKey(corosync.NewError(bc.Op, corosync.ErrMessageError, err), key)
	}
	return r, nil
}

// pipeBufs are walkValues' buffers, pooled: the requests and answers of
// one batch.
type pipeBufs struct {
	req         [maxPipe][cmapwire.GetRequestSize]byte
	resp        [maxPipe][cmapwire.GetResponseSize + cmapwire.GetBufferSize + 7]byte
	nreq        [maxPipe][cmapwire.IterNextRequestSize]byte
	nresp       [maxPipe][cmapwire.IterNextResponseSize + 64]byte
	calls       [2 * maxPipe]session.BatchCall
	keys, found [maxPipe]cmapwire.Response
}

// maxPipe bounds pipeDepth.
const maxPipe = 8

var pipePool = sync.Pool{New: func() any { return new(pipeBufs) }}

func getPipeBufs() *pipeBufs { return pipePool.Get().(*pipeBufs) }
func putPipeBufs(b *pipeBufs) {
	clear(b.calls[:])
	clear(b.keys[:])
	clear(b.found[:])
	pipePool.Put(b)
}

// testHookIter and testHookNext, set by tests, see each iterator handle
// and each key an ITER_NEXT returns.
var (
	testHookIter func(h uint64)
	testHookNext func(key string)
)
