package cmap

import (
	"context"
	"strings"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cmapwire"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "cmap"

var (
	// ErrClosed is the cause of errors from calls on a closed Client; they
	// carry corosync.ErrBadHandle, as libcmap reports calls after finalize.
	ErrClosed = dispatch.ErrClosed
	// ErrNotConnected is the cause of errors from requests made while the
	// client is reconnecting; they carry corosync.ErrLibrary. It is
	// client.ErrNotConnected, in every service.
	ErrNotConnected = client.ErrNotConnected
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
	s            *session.Session[Event]
	m            Map
	daemonWrites bool // WithDaemonKeyWrites

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
func Dial(ctx context.Context, opts ...client.Option) (*Client, error) {
	cfg := config{m: MapICMap}
	set, err := client.Apply("cmap.Dial", &cfg, opts)
	if err != nil {
		return nil, err
	}
	cfg.Options = session.OptionsFrom(set)
	if _, err := cmapwire.AppendSetCurrentMap(nil, cmapwire.Map(cfg.m)); err != nil {
		return nil, corosync.NewError("cmap dial", corosync.ErrInvalidParam, err)
	}
	c := &Client{m: cfg.m, daemonWrites: cfg.daemonWrites, tracks: map[uint64]*Track{}}
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
		return Value{}, pubErr(err)
	}
	conn, err := c.s.Current()
	if err != nil {
		return Value{}, err
	}
	r, err := c.call(ctx, conn, cmapwire.ReqGet, key, req, b.resp[:0])
	if err != nil {
		return Value{}, err
	}
	return Value{r.Value.WithKey(key)}, nil
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

// GetUint returns the value of a key of any unsigned integer type (u8,
// u16, u32, u64) as a uint64 (Value.Uint): for keys whose width differs
// between corosync releases. Another type is a *TypeError.
func (c *Client) GetUint(ctx context.Context, key string) (uint64, error) {
	return get(ctx, c, key, Value.Uint)
}

// GetInt returns the value of a key of any signed integer type (i8, i16,
// i32, i64) as an int64 (Value.Int). Another type is a *TypeError.
func (c *Client) GetInt(ctx context.Context, key string) (int64, error) {
	return get(ctx, c, key, Value.Int)
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
	return get(ctx, c, key, Value.Str)
}

// GetBinary returns the value of a bin key.
func (c *Client) GetBinary(ctx context.Context, key string) ([]byte, error) {
	return get(ctx, c, key, Value.Binary)
}

// Set stores v under key, creating the key or replacing its value and type
// (cmap_set). The key and value are checked first (*KeyError, *ValueError),
// and a key corosync owns (runtime.*, or any key of the stats map) is
// refused with a *DaemonKeyError unless the client was dialled with
// WithDaemonKeyWrites; the daemon refuses read-only keys with
// corosync.ErrAccess.
func (c *Client) Set(ctx context.Context, key string, v Value) error {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendSet(b.req[:0], key, v.v)
	if err != nil {
		return pubErr(err)
	}
	if err := c.mayWrite("set", key); err != nil {
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
// exist, corosync.ErrAccess if it is read-only. A key corosync owns is
// refused as by Set.
func (c *Client) Delete(ctx context.Context, key string) error {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendDelete(b.req[:0], key)
	if err != nil {
		return pubErr(err)
	}
	if err := c.mayWrite("delete", key); err != nil {
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
// missing one corosync.ErrNotExist; a key corosync owns is refused as by
// Set.
func (c *Client) Inc(ctx context.Context, key string) error { return c.adjust(ctx, key, 1) }

// Dec subtracts 1 from the integer key (cmap_dec), wrapping around.
func (c *Client) Dec(ctx context.Context, key string) error { return c.adjust(ctx, key, -1) }

func (c *Client) adjust(ctx context.Context, key string, step int32) error {
	b := getBufs()
	defer putBufs(b)
	req, err := cmapwire.AppendAdjust(b.req[:0], key, step)
	if err != nil {
		return pubErr(err)
	}
	op := "inc"
	if step < 0 {
		op = "dec"
	}
	if err := c.mayWrite(op, key); err != nil {
		return err
	}
	conn, err := c.s.Current()
	if err != nil {
		return err
	}
	_, err = c.call(ctx, conn, cmapwire.ReqAdjustInt, key, req, b.resp[:0])
	return err
}

// DaemonKeyError is a write (Set, Delete, Inc, Dec) to a key that corosync
// owns, refused before anything is sent: a runtime.* key of the main map or
// any key of the stats map, on a client dialled without
// WithDaemonKeyWrites. It matches corosync.ErrAccess.
type DaemonKeyError struct {
	Op  string // "set", "delete", "inc" or "dec"
	Key string
	Map Map
}

// Error names the key and says how to opt in, e.g. "cmap: refusing to set
// runtime.votequorum.this_node_id: runtime.* keys belong to corosync; dial
// with cmap.WithDaemonKeyWrites() to write them".
func (e *DaemonKeyError) Error() string {
	if e.Map == MapStats {
		return "cmap: refusing to " + e.Op + " " + e.Key + ": the stats map belongs to corosync; dial with cmap.WithDaemonKeyWrites() to write it (a set of stats.clear.* resets statistics)"
	}
	return "cmap: refusing to " + e.Op + " " + e.Key + ": runtime.* keys belong to corosync; dial with cmap.WithDaemonKeyWrites() to write them"
}

// Unwrap makes errors.Is(err, corosync.ErrAccess) hold.
func (e *DaemonKeyError) Unwrap() error { return corosync.ErrAccess }

// DaemonKey reports whether corosync owns key in map m: every key of the
// stats map, and the runtime.* keys of the main map. Writing one needs
// WithDaemonKeyWrites.
func DaemonKey(m Map, key string) bool {
	return m == MapStats || strings.HasPrefix(key, "runtime.")
}

// mayWrite refuses a write to a key corosync owns unless the client opted
// in.
func (c *Client) mayWrite(op, key string) error {
	if c.daemonWrites || !DaemonKey(c.m, key) {
		return nil
	}
	return &DaemonKeyError{Op: op, Key: key, Map: c.m}
}

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
func withKey(err error, key string) error { return session.Annotate(err, key) }

// bufs holds one request and its response; pooled so that a call does not
// allocate its buffers.
type bufs struct {
	req  [cmapwire.SetRequestSize + cmapwire.MaxValueLen + 8]byte
	resp [cmapwire.GetResponseSize + cmapwire.GetBufferSize + 7]byte
}

var bufPool = sync.Pool{New: func() any { return new(bufs) }}

func getBufs() *bufs  { return bufPool.Get().(*bufs) }
func putBufs(b *bufs) { bufPool.Put(b) }
