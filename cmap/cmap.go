package cmap

import (
	"context"
	"errors"
	"iter"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "cmap"

var (
	// ErrClosed is the cause of errors from calls on a closed Client; they
	// carry corosync.ErrBadHandle, as libcmap reports calls after finalize.
	ErrClosed = session.ErrClosed
	// ErrNotConnected is the cause of errors from requests made while the
	// client is reconnecting; they carry corosync.ErrLibrary.
	ErrNotConnected = session.ErrNotConnected
)

// detachedWait bounds the requests whose answer the client must read even
// when the caller's ctx has ended: an ITER_INIT or TRACK_ADD answered after
// the caller gave up would leave an iterator or tracker on the daemon that
// nothing finalises, and ITER_FINALIZE / TRACK_DELETE clean up after a
// caller that is gone.
const detachedWait = 10 * time.Second

// Client is a connection to the cmap service. Its methods are safe for
// concurrent use; requests on its connection are sent one at a time.
type Client struct {
	s *session.Session[Event]
	m Map

	// reqMu serialises requests, so that an ITER_INIT and its first
	// ITER_NEXT follow each other with nothing in between (the daemon reads
	// the prefix from the request ring only at the first ITER_NEXT).
	reqMu sync.Mutex

	// trackMu serialises registering and removing tracks on the daemon
	// (Track, Track.Close) with their registration on a new connection
	// (Setup after a reconnect). It is taken before reqMu.
	trackMu sync.Mutex

	tmu        sync.Mutex // guards the fields below: the pump reads them
	tracks     map[uint64]*Track
	nextCookie uint64
	closed     bool
	endErr     error // why the connection is gone for good (service.End)
}

// Dial connects to the local corosync cmap service (cmap_initialize, or
// cmap_initialize_map with WithMap). ctx bounds the whole handshake;
// TRY_AGAIN answers are retried with backoff until ctx ends.
//
// Errors carry corosync codes: corosync.ErrLibrary when corosync is not
// running, corosync.ErrAccess when this user is not allowed (see the uidgid
// section of corosync.conf), corosync.ErrTimeout if ctx ended during the
// handshake.
func Dial(ctx context.Context, opts ...Option) (*Client, error) {
	cfg := config{Options: session.DefaultOptions(), m: MapICMap}
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := cmapwire.AppendSetCurrentMap(nil, cfg.m); err != nil {
		return nil, corosync.NewError("cmap dial", corosync.ErrInvalidParam, err)
	}
	c := &Client{m: cfg.m, tracks: map[uint64]*Track{}}
	s, err := session.Dial(ctx, cmapwire.Requests, &service{c: c}, cfg.Options)
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

// Map returns the map the client works on.
func (c *Client) Map() Map { return c.m }

// DaemonVersion returns what the client learnt of the daemon's release
// when it last connected: a lower bound (see corosync.Version). Requests
// the daemon may not define fail with corosync.ErrNotSupported before
// anything is sent.
func (c *Client) DaemonVersion() corosync.Version { return c.s.DaemonVersion() }

// Close ends every track (their readers see an error carrying
// corosync.ErrBadHandle), deletes the trackers on the daemon (a change of a
// tracked key sent to a closing connection is an error in the daemon's
// log), closes the connection and waits for the client's goroutines to
// exit. The daemon drops the connection's iterators with it. Close is
// idempotent.
func (c *Client) Close() error {
	err := c.s.Close() // ends the tracks first (service.End), then deletes them on the daemon
	c.tmu.Lock()
	c.closed = true
	var ts []*Track
	for _, t := range c.tracks {
		ts = append(ts, t)
	}
	clear(c.tracks)
	c.tmu.Unlock()
	for _, t := range ts {
		t.end()
	}
	return err
}

// Get returns the value of key (cmap_get). A missing key is
// corosync.ErrNotExist; a key that cannot exist is a *KeyError, refused
// before anything is sent. The returned Value carries key for the errors of
// its typed getters.
//
// Every GET offers the daemon a buffer that holds any value (never a
// size-only query, which crashes corosync 3.1.7 on some stats keys).
func (c *Client) Get(ctx context.Context, key string) (Value, error) {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendGet(b.req[:0], key)
	if err != nil {
		return Value{}, err
	}
	conn, err := c.s.Current()
	if err != nil {
		return Value{}, err
	}
	r, err := c.call(ctx, conn, cmapwire.ReqGet, key, req, b.resp[:0])
	if err != nil {
		return Value{}, err
	}
	return r.Value.WithKey(key), nil
}

func get[T any](ctx context.Context, c *Client, key string, f func(Value) (T, error)) (T, error) {
	v, err := c.Get(ctx, key)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(v)
}

// GetInt8 returns the value of an i8 key (cmap_get_int8); a key of another
// type is a *TypeError.
func (c *Client) GetInt8(ctx context.Context, key string) (int8, error) {
	return get(ctx, c, key, Value.Int8)
}

// GetUint8 returns the value of a u8 key (cmap_get_uint8).
func (c *Client) GetUint8(ctx context.Context, key string) (uint8, error) {
	return get(ctx, c, key, Value.Uint8)
}

// GetInt16 returns the value of an i16 key (cmap_get_int16).
func (c *Client) GetInt16(ctx context.Context, key string) (int16, error) {
	return get(ctx, c, key, Value.Int16)
}

// GetUint16 returns the value of a u16 key (cmap_get_uint16).
func (c *Client) GetUint16(ctx context.Context, key string) (uint16, error) {
	return get(ctx, c, key, Value.Uint16)
}

// GetInt32 returns the value of an i32 key (cmap_get_int32).
func (c *Client) GetInt32(ctx context.Context, key string) (int32, error) {
	return get(ctx, c, key, Value.Int32)
}

// GetUint32 returns the value of a u32 key (cmap_get_uint32).
func (c *Client) GetUint32(ctx context.Context, key string) (uint32, error) {
	return get(ctx, c, key, Value.Uint32)
}

// GetInt64 returns the value of an i64 key (cmap_get_int64).
func (c *Client) GetInt64(ctx context.Context, key string) (int64, error) {
	return get(ctx, c, key, Value.Int64)
}

// GetUint64 returns the value of a u64 key (cmap_get_uint64).
func (c *Client) GetUint64(ctx context.Context, key string) (uint64, error) {
	return get(ctx, c, key, Value.Uint64)
}

// GetFloat returns the value of a flt key (cmap_get_float).
func (c *Client) GetFloat(ctx context.Context, key string) (float32, error) {
	return get(ctx, c, key, Value.Float)
}

// GetDouble returns the value of a dbl key (cmap_get_double).
func (c *Client) GetDouble(ctx context.Context, key string) (float64, error) {
	return get(ctx, c, key, Value.Double)
}

// GetString returns the value of a str key without its NUL
// (cmap_get_string).
func (c *Client) GetString(ctx context.Context, key string) (string, error) {
	return get(ctx, c, key, Value.String)
}

// GetBinary returns the value of a bin key.
func (c *Client) GetBinary(ctx context.Context, key string) ([]byte, error) {
	return get(ctx, c, key, Value.Binary)
}

// Set stores v under key, creating the key or replacing its value and type
// (cmap_set). The key and value are checked first (*KeyError, *ValueError);
// the daemon refuses read-only keys with corosync.ErrAccess.
func (c *Client) Set(ctx context.Context, key string, v Value) error {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendSet(b.req[:0], key, v)
	if err != nil {
		return err
	}
	conn, err := c.s.Current()
	if err != nil {
		return err
	}
	_, err = c.call(ctx, conn, cmapwire.ReqSet, key, req, b.resp[:0])
	return err
}

// SetInt8 stores an i8 (cmap_set_int8).
func (c *Client) SetInt8(ctx context.Context, key string, v int8) error {
	return c.Set(ctx, key, Int8(v))
}

// SetUint8 stores a u8 (cmap_set_uint8).
func (c *Client) SetUint8(ctx context.Context, key string, v uint8) error {
	return c.Set(ctx, key, Uint8(v))
}

// SetInt16 stores an i16 (cmap_set_int16).
func (c *Client) SetInt16(ctx context.Context, key string, v int16) error {
	return c.Set(ctx, key, Int16(v))
}

// SetUint16 stores a u16 (cmap_set_uint16).
func (c *Client) SetUint16(ctx context.Context, key string, v uint16) error {
	return c.Set(ctx, key, Uint16(v))
}

// SetInt32 stores an i32 (cmap_set_int32).
func (c *Client) SetInt32(ctx context.Context, key string, v int32) error {
	return c.Set(ctx, key, Int32(v))
}

// SetUint32 stores a u32 (cmap_set_uint32).
func (c *Client) SetUint32(ctx context.Context, key string, v uint32) error {
	return c.Set(ctx, key, Uint32(v))
}

// SetInt64 stores an i64 (cmap_set_int64).
func (c *Client) SetInt64(ctx context.Context, key string, v int64) error {
	return c.Set(ctx, key, Int64(v))
}

// SetUint64 stores a u64 (cmap_set_uint64).
func (c *Client) SetUint64(ctx context.Context, key string, v uint64) error {
	return c.Set(ctx, key, Uint64(v))
}

// SetFloat stores a flt (cmap_set_float).
func (c *Client) SetFloat(ctx context.Context, key string, v float32) error {
	return c.Set(ctx, key, Float(v))
}

// SetDouble stores a dbl (cmap_set_double).
func (c *Client) SetDouble(ctx context.Context, key string, v float64) error {
	return c.Set(ctx, key, Double(v))
}

// SetString stores a str (cmap_set_string): at most MaxStringLen bytes
// without a NUL byte.
func (c *Client) SetString(ctx context.Context, key string, v string) error {
	return c.Set(ctx, key, String(v))
}

// SetBinary stores a bin of at most MaxValueLen bytes.
func (c *Client) SetBinary(ctx context.Context, key string, v []byte) error {
	return c.Set(ctx, key, Binary(v))
}

// Delete removes key (cmap_delete): corosync.ErrNotExist if it does not
// exist, corosync.ErrAccess if it is read-only.
func (c *Client) Delete(ctx context.Context, key string) error {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendDelete(b.req[:0], key)
	if err != nil {
		return err
	}
	conn, err := c.s.Current()
	if err != nil {
		return err
	}
	_, err = c.call(ctx, conn, cmapwire.ReqDelete, key, req, b.resp[:0])
	return err
}

// Inc adds 1 to the integer key (cmap_inc), wrapping around in the key's
// width. A string, float or binary key is corosync.ErrInvalidParam, a
// missing one corosync.ErrNotExist.
func (c *Client) Inc(ctx context.Context, key string) error { return c.adjust(ctx, key, 1) }

// Dec subtracts 1 from the integer key (cmap_dec), wrapping around.
func (c *Client) Dec(ctx context.Context, key string) error { return c.adjust(ctx, key, -1) }

func (c *Client) adjust(ctx context.Context, key string, step int32) error {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendAdjust(b.req[:0], key, step)
	if err != nil {
		return err
	}
	conn, err := c.s.Current()
	if err != nil {
		return err
	}
	_, err = c.call(ctx, conn, cmapwire.ReqAdjustInt, key, req, b.resp[:0])
	return err
}

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
// the daemon's order (cmap_iter_init, cmap_iter_next, cmap_iter_finalize):
// one round trip per key. An error is yielded once, as the last pair; the
// end of the keys is not an error.
//
// The daemon's iterator is finalised when the loop ends, also when it ends
// early (break) or ctx ends. A lost connection ends the iteration with its
// error (the daemon drops the iterator with the connection). Keys created or
// deleted during the iteration may or may not be seen.
//
// corosync 2.x keeps a runtime.connections.<connection>.* entry per IPC
// connection, and crashes (SIGSEGV) when several iterations cover those
// keys while connections come and go: reproduced with four libcmap 2.4.6
// clients iterating the whole map under connection churn (none crashed it
// iterating totem.*). On 2.x, iterate the prefixes you need rather than the
// whole map, and avoid runtime.connections. under load.
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

// IterValues is Iter with each key's value read too (one more round trip
// per key, as corosync-cmapctl does). A key deleted between the two is
// skipped.
func (c *Client) IterValues(ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) { c.iterate(ctx, prefix, true, yield) }
}

func (c *Client) iterate(ctx context.Context, prefix string, values bool, yield func(Entry, error) bool) {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendIterInit(b.req[:0], prefix)
	if err != nil {
		yield(Entry{}, err)
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
	// The ITER_INIT's answer is read whatever ctx says (else the daemon
	// keeps an iterator nobody finalises), and its first ITER_NEXT follows
	// it with no other request in between.
	c.reqMu.Lock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedWait)
	r, err := call(dctx, conn, cmapwire.ReqIterInit, prefix, req, b.resp[:0])
	cancel()
	if err != nil {
		c.reqMu.Unlock()
		yield(Entry{}, err)
		return
	}
	h := r.Handle
	if testHookIter != nil {
		testHookIter(h)
	}
	defer c.finalize(conn, h)
	n, err := call(ctx, conn, cmapwire.ReqIterNext, prefix, cmapwire.AppendIterNext(b.req[:0], h), b.resp[:0])
	c.reqMu.Unlock()
	for {
		if err != nil {
			if corosync.Code(err) != corosync.ErrNoSections {
				yield(Entry{}, err)
			}
			return
		}
		e := Entry{Key: n.Key, Type: n.Type, Len: n.ValueLen}
		skip := false
		if values {
			var g cmapwire.Response
			req, _ := cmapwire.AppendGet(b.req[:0], n.Key) // the daemon's own key
			g, err = c.call(ctx, conn, cmapwire.ReqGet, n.Key, req, b.resp[:0])
			switch {
			case corosync.Code(err) == corosync.ErrNotExist:
				skip = true
			case err != nil:
				yield(Entry{}, err)
				return
			default:
				e.Value = g.Value.WithKey(n.Key)
				e.Type = e.Value.Type()
			}
		}
		if !skip && !yield(e, nil) {
			return
		}
		n, err = c.call(ctx, conn, cmapwire.ReqIterNext, prefix, cmapwire.AppendIterNext(b.req[:0], h), b.resp[:0])
	}
}

// testHookIter, set by tests, sees each iterator handle.
var testHookIter func(h uint64)

// finalize ends iterator h on conn, whatever the caller's ctx. On a lost
// connection there is nothing to end.
func (c *Client) finalize(conn *session.Conn, h uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), detachedWait)
	defer cancel()
	var buf [cmapwire.IterFinalizeSize]byte
	var resp [64]byte
	c.call(ctx, conn, cmapwire.ReqIterFinalize, "", cmapwire.AppendIterFinalize(buf[:0], h), resp[:0])
}

// ops are the operation names of errors, by request id.
var ops = [...]string{
	cmapwire.ReqSet:           "cmap set",
	cmapwire.ReqDelete:        "cmap delete",
	cmapwire.ReqGet:           "cmap get",
	cmapwire.ReqAdjustInt:     "cmap adjust",
	cmapwire.ReqIterInit:      "cmap iter_init",
	cmapwire.ReqIterNext:      "cmap iter_next",
	cmapwire.ReqIterFinalize:  "cmap iter_finalize",
	cmapwire.ReqTrackAdd:      "cmap track_add",
	cmapwire.ReqTrackDelete:   "cmap track_delete",
	cmapwire.ReqSetCurrentMap: "cmap set_current_map",
}

// call sends one request on conn, after the requests before it.
func (c *Client) call(ctx context.Context, conn *session.Conn, id int32, key string, req, resp []byte) (cmapwire.Response, error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	return call(ctx, conn, id, key, req, resp)
}

// call sends one request on conn; the caller holds reqMu or owns conn alone
// (setup). Errors name the key (or prefix) when there is one. A response
// that does not decode drops the connection (the session reconnects).
func call(ctx context.Context, conn *session.Conn, id int32, key string, req, resp []byte) (cmapwire.Response, error) {
	op := ops[id]
	out, err := conn.Call(ctx, op, req, cmapwire.ResponseFor(id), resp)
	if err != nil {
		return cmapwire.Response{}, withKey(err, key)
	}
	r, err := cmapwire.DecodeResponse(out, id)
	if err != nil {
		conn.Close()
		return r, withKey(corosync.NewError(op, corosync.ErrMessageError, err), key)
	}
	return r, nil
}

// withKey puts key into the operation name of err: "cmap get totem.x:
// CS_ERR_NOT_EXIST: ...".
func withKey(err error, key string) error {
	var oe *corosync.OpError
	if key == "" || !errors.As(err, &oe) {
		return err
	}
	return &corosync.OpError{Op: oe.Op + " " + key, Code: oe.Code, Err: oe.Err}
}

// bufs holds one request and its response; pooled so that a call does not
// allocate its buffers.
type bufs struct {
	req  [cmapwire.SetRequestSize + cmapwire.MaxValueLen + 8]byte
	resp [cmapwire.GetResponseSize + cmapwire.GetBufferSize + 7]byte
}

var bufPool = sync.Pool{New: func() any { return new(bufs) }}

func getBufs() *bufs  { return bufPool.Get().(*bufs) }
func putBufs(b *bufs) { bufPool.Put(b) }
