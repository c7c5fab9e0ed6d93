package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/quorum"
	"github.com/corosync-go/corosync/transport"
	"github.com/corosync-go/corosync/votequorum"
)

// ErrNotConnected is in the cause of a PartError whose service is not
// connected: never dialed successfully, or reconnecting. It carries
// corosync.ErrLibrary.
var ErrNotConnected = quorum.ErrNotConnected

type config struct {
	dialer  transport.Dialer
	log     *slog.Logger
	wait    bool
	stats   bool
	poll    time.Duration
	timeout time.Duration
	backoff corosync.Backoff
	oneShot bool // Get: no caches, no background goroutines
}

// WithStats makes snapshots include the statistics part (PartStats): knet's
// per-link statistics from the stats map (one more connection, corosync
// 3.x) and the daemon's IPC connection counts.
func WithStats() client.Option {
	return client.ForService("status.WithStats", func(c *config) { c.stats = true })
}

// WithPollInterval sets how often a watch (Subscribe) reads the state when
// no notification came: link status has none. Default 1 s; at least 10 ms.
func WithPollInterval(d time.Duration) client.Option {
	return client.ForService("status.WithPollInterval", func(c *config) { c.poll = max(d, 10*time.Millisecond) })
}

// WithTimeout bounds each snapshot a watch takes (default 2 s).
func WithTimeout(d time.Duration) client.Option {
	return client.ForService("status.WithTimeout", func(c *config) { c.timeout = d })
}

// service is one service client slot of a Client.
type service[T any] struct {
	c       *T
	err     error            // why the last dial failed
	ver     corosync.Version // the daemon's version when err was ErrNotSupported
	tries   int
	last    time.Time
	dialing bool
}

// Client holds connections to the quorum, votequorum, cfg and cmap
// services (and the stats map WithStats) of one daemon and reads a
// Snapshot from them on demand. Each service client reconnects by itself
// when the daemon restarts; a service that could not be dialed is dialed
// again in the background (with backoff) while the others keep answering.
// Its methods are safe for concurrent use.
type Client struct {
	cfg    config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	q      service[quorum.Client]
	vq     service[votequorum.Client]
	cf     service[cfg.Client]
	cm     service[cmap.Client]
	st     service[cmap.Client]

	// cache of the cmap part, reloaded when the nodelist track says it
	// changed (or after a reconnect).
	conf          *cmapPart
	confGen       uint64 // raised on every nodelist change and cmap (re)connect
	confLoadedGen uint64 // confGen when conf was read

	changes  Changes
	lastQ    *bool
	lastRing corosync.RingID

	changed chan struct{} // kicked on every notification (watch)
	last    Snapshot
	disp    *dispatch.Dispatcher[Event]
}

// Get reads one snapshot of the local daemon: it dials what it needs,
// reads, and closes. The error is nil when the snapshot is complete, a
// *PartialError when parts are missing (the snapshot has the rest), or the
// dial error when no service could be reached (corosync.ErrLibrary when
// corosync is not running). For repeated reads, Dial a Client.
func Get(ctx context.Context, opts ...client.Option) (Snapshot, error) {
	c, err := dial(ctx, true, opts)
	if err != nil {
		return Snapshot{}, err
	}
	defer c.Close()
	return c.Snapshot(ctx)
}

// Dial connects to the local daemon's services. It fails only when none
// can be reached (corosync.ErrLibrary when corosync is not running,
// corosync.ErrAccess when this user is not allowed); a service that refuses
// is dialed again in the background, and snapshots report its part missing
// until then. ctx bounds the dials.
func Dial(ctx context.Context, opts ...client.Option) (*Client, error) {
	return dial(ctx, false, opts)
}

func dial(ctx context.Context, oneShot bool, opts []client.Option) (*Client, error) {
	cf := config{poll: time.Second, timeout: 2 * time.Second, oneShot: oneShot}
	op := "status.Dial"
	if oneShot {
		op = "status.Get"
	}
	set, err := client.Apply(op, &cf, opts)
	if err != nil {
		return nil, err
	}
	cf.dialer, cf.log, cf.wait, cf.backoff = set.Dialer, set.Logger, set.WaitForDaemon, set.Backoff
	if cf.dialer == nil {
		cf.dialer = transport.NewDialer(transport.Config{})
	}
	if cf.log == nil {
		cf.log = slog.New(slog.DiscardHandler)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{cfg: cf, ctx: cctx, cancel: cancel, changed: make(chan struct{}, 1)}
	// Every service at once (each dial is a few round trips, and each
	// client but cmap's first learns the daemon's release on a cmap
	// connection of its own).
	dials := []func(context.Context){c.dialQuorum, c.dialVotequorum, c.dialCfg, c.dialCmap}
	if cf.stats {
		dials = append(dials, c.dialStats)
	}
	var wg sync.WaitGroup
	for _, d := range dials {
		wg.Go(func() { d(ctx) })
	}
	wg.Wait()
	if c.q.c == nil && c.vq.c == nil && c.cf.c == nil && c.cm.c == nil {
		err := c.q.err
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close ends every subscription, closes every connection and waits for
// the client's goroutines. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	disp := c.disp
	c.mu.Unlock()
	c.cancel()
	if disp != nil {
		disp.Close()
	}
	c.wg.Wait() // late dials and observers
	c.mu.Lock()
	all := []interface{ Close() error }{nilable(c.q.c), nilable(c.vq.c), nilable(c.cf.c), nilable(c.cm.c), nilable(c.st.c)}
	c.mu.Unlock()
	// At once: a connection that just had events waits a moment for the
	// daemon to deliver what it still holds before it closes.
	var wg sync.WaitGroup
	for _, cl := range all {
		if cl != nil {
			wg.Go(func() { cl.Close() })
		}
	}
	wg.Wait()
	return nil
}

// nilable turns a nil *T into a nil interface.
func nilable[T any, P interface {
	*T
	Close() error
}](p P) interface{ Close() error } {
	if p == nil {
		return nil
	}
	return p
}

// kick tells a watch something changed.
func (c *Client) kick() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *Client) dialQuorum(ctx context.Context) {
	opts := []client.Option{client.WithDialer(c.cfg.dialer), client.WithLogger(c.cfg.log), client.WithBackoff(c.cfg.backoff)}
	if c.cfg.wait {
		opts = append(opts, client.WithWaitForDaemon())
	}
	if c.cfg.oneShot {
		opts = append(opts, client.WithoutReconnect())
	}
	q, err := quorum.Dial(ctx, opts...)
	c.set(func() { setSlot(&c.q, q, err, c.version()) })
	if err == nil && !c.cfg.oneShot {
		// Subscribed before Dial returns: its first event is the state
		// the change counters start from.
		sub, err := q.Subscribe(ctx, dispatch.Queue(1024))
		if err != nil {
			return
		}
		c.observe(sub, func(ctx context.Context) {
			for {
				sub.Run(ctx, func(ev quorum.Event) error {
					c.observeQuorum(ev)
					c.kick()
					return nil
				})
				sub.Close()
				if ctx.Err() != nil {
					return
				}
				// Overflowed (a burst of over 1024 events): go on from
				// the current state.
				if sub, err = q.Subscribe(ctx, dispatch.Queue(1024)); err != nil {
					return
				}
			}
		})
	}
}

func (c *Client) dialVotequorum(ctx context.Context) {
	opts := []client.Option{client.WithDialer(c.cfg.dialer), client.WithLogger(c.cfg.log), client.WithBackoff(c.cfg.backoff)}
	if c.cfg.wait {
		opts = append(opts, client.WithWaitForDaemon())
	}
	if c.cfg.oneShot {
		opts = append(opts, client.WithoutReconnect())
	}
	vq, err := votequorum.Dial(ctx, opts...)
	c.set(func() { setSlot(&c.vq, vq, err, c.version()) })
	if err == nil && !c.cfg.oneShot {
		sub, err := vq.Subscribe(ctx)
		if err != nil {
			return
		}
		c.observe(sub, func(ctx context.Context) {
			defer sub.Close()
			sub.Run(ctx, func(votequorum.Event) error { c.kick(); return nil })
		})
	}
}

func (c *Client) dialCfg(ctx context.Context) {
	opts := []client.Option{client.WithDialer(c.cfg.dialer), client.WithLogger(c.cfg.log), client.WithBackoff(c.cfg.backoff)}
	if c.cfg.wait {
		opts = append(opts, client.WithWaitForDaemon())
	}
	if c.cfg.oneShot {
		opts = append(opts, client.WithoutReconnect())
	}
	cf, err := cfg.Dial(ctx, opts...)
	c.set(func() { setSlot(&c.cf, cf, err, c.version()) })
	if err == nil && !c.cfg.oneShot {
		sub, err := cf.Subscribe(ctx)
		if err != nil {
			return
		}
		c.observe(sub, func(ctx context.Context) {
			defer sub.Close()
			sub.Run(ctx, func(cfg.Event) error { c.kick(); return nil })
		})
	}
}

func (c *Client) dialCmap(ctx context.Context) {
	opts := []client.Option{client.WithDialer(c.cfg.dialer), client.WithLogger(c.cfg.log), client.WithBackoff(c.cfg.backoff)}
	if c.cfg.wait {
		opts = append(opts, client.WithWaitForDaemon())
	}
	if c.cfg.oneShot {
		opts = append(opts, client.WithoutReconnect())
	}
	cm, err := cmap.Dial(ctx, opts...)
	c.set(func() {
		setSlot(&c.cm, cm, err, c.version())
		c.confGen++
	})
	if err == nil && !c.cfg.oneShot {
		c.observe(nil, func(ctx context.Context) { c.watchNodelist(ctx, cm) })
	}
}

// The stats map needs corosync 3.0: on 2.x the dial is refused
// (ErrNotSupported, nothing sent) and the statistics are read from the
// main map instead.
func (c *Client) dialStats(ctx context.Context) {
	opts := []client.Option{client.WithDialer(c.cfg.dialer), client.WithLogger(c.cfg.log), client.WithBackoff(c.cfg.backoff), cmap.WithMap(cmap.MapStats)}
	if c.cfg.wait {
		opts = append(opts, client.WithWaitForDaemon())
	}
	if c.cfg.oneShot {
		opts = append(opts, client.WithoutReconnect())
	}
	st, err := cmap.Dial(ctx, opts...)
	c.set(func() { setSlot(&c.st, st, err, c.version()) })
}

// set runs fn under mu. A late dial ends before Close closes the clients
// (Close waits for it), so Close closes what it set too.
func (c *Client) set(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn()
}

func setSlot[T any](s *service[T], v *T, err error, ver corosync.Version) {
	s.dialing = false
	s.last = time.Now()
	if err != nil {
		s.err, s.ver = err, ver
		s.tries++
		return
	}
	s.c, s.err, s.tries = v, nil, 0
}

// observe runs fn in a goroutine until the client closes; a client
// already closed closes sub instead.
func (c *Client) observe(sub interface{ Close() error }, fn func(ctx context.Context)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if sub != nil {
			sub.Close()
		}
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn(c.ctx)
	}()
}

// version is the daemon's release as the connected clients learnt it
// (under mu): the latest any of them found, since only votequorum's probe
// tells corosync main from 3.1.6 (corosync.VersionMain).
func (c *Client) version() corosync.Version {
	var vs []corosync.Version
	if c.cf.c != nil {
		vs = append(vs, c.cf.c.DaemonVersion())
	}
	if c.q.c != nil {
		vs = append(vs, c.q.c.DaemonVersion())
	}
	if c.vq.c != nil {
		vs = append(vs, c.vq.c.DaemonVersion())
	}
	if c.cm.c != nil {
		vs = append(vs, c.cm.c.DaemonVersion())
	}
	var v corosync.Version
	for _, x := range vs {
		if x.AtLeast(v) {
			v = x
		}
	}
	return v
}

// redial starts a background dial of every missing service whose backoff
// has passed (under mu). A service the daemon's release lacks
// (ErrNotSupported) is dialed again only once the release changed (an
// upgraded daemon).
func (c *Client) redial() {
	if c.closed || c.cfg.oneShot {
		return
	}
	ver := c.version()
	try := func(need bool, dialing *bool, err error, errVer corosync.Version, tries int, last time.Time, dial func(context.Context)) {
		if !need || *dialing || time.Since(last) < c.cfg.backoff.Delay(tries-1) {
			return
		}
		if errors.Is(err, corosync.ErrNotSupported) && (ver == errVer || ver == (corosync.Version{})) {
			return
		}
		*dialing = true
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			defer cancel()
			dial(ctx)
		}()
	}
	try(c.q.c == nil, &c.q.dialing, c.q.err, c.q.ver, c.q.tries, c.q.last, c.dialQuorum)
	try(c.vq.c == nil, &c.vq.dialing, c.vq.err, c.vq.ver, c.vq.tries, c.vq.last, c.dialVotequorum)
	try(c.cf.c == nil, &c.cf.dialing, c.cf.err, c.cf.ver, c.cf.tries, c.cf.last, c.dialCfg)
	try(c.cm.c == nil, &c.cm.dialing, c.cm.err, c.cm.ver, c.cm.tries, c.cm.last, c.dialCmap)
	try(c.cfg.stats && c.st.c == nil, &c.st.dialing, c.st.err, c.st.ver, c.st.tries, c.st.last, c.dialStats)
}

// observeQuorum counts quorate flips and ring changes, from notifications
// and from the fresh snapshot after a reconnect (a restarted daemon forms
// a new ring). The fail-safe state of an outage is not a change of the
// cluster.
func (c *Client) observeQuorum(ev quorum.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.Kind {
	case corosync.EventQuorum, corosync.EventNodelist, corosync.EventSnapshot:
	default:
		return
	}
	if c.lastQ == nil {
		q := ev.Quorate
		c.lastQ, c.lastRing = &q, ev.Ring
		return
	}
	changed := false
	if *c.lastQ != ev.Quorate {
		c.changes.Quorum++
		changed = true
	}
	ring := ev.Ring
	if ev.Kind == corosync.EventNodelist && ev.Nodelist != nil {
		ring = ev.Nodelist.Ring
	}
	if ring != c.lastRing && ring != (corosync.RingID{}) {
		c.changes.Membership++
		c.lastRing = ring
		changed = true
	}
	q := ev.Quorate
	c.lastQ = &q
	if changed {
		c.changes.Last = time.Now()
	}
}

// watchNodelist marks the cmap part stale on every nodelist change (and
// reconnect) until ctx ends.
func (c *Client) watchNodelist(ctx context.Context, cm *cmap.Client) {
	for {
		tr, err := cm.Track(ctx, "nodelist.", cmap.TrackAdd|cmap.TrackDelete|cmap.TrackModify|cmap.TrackPrefix, dispatch.LatestWins())
		if err == nil {
			c.mu.Lock()
			c.confGen++ // changes before the track went unseen
			c.mu.Unlock()
			tr.Run(ctx, func(cmap.Event) error {
				c.mu.Lock()
				c.confGen++
				c.mu.Unlock()
				c.kick()
				return nil
			})
			tr.Close()
		}
		t := time.NewTimer(time.Second) // not connected: the client reconnects by itself
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Latest returns the last snapshot taken (by Snapshot or by the watch);
// the zero Snapshot before the first.
func (c *Client) Latest() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// DaemonVersion returns what the clients learnt of the daemon's release
// (see corosync.Version).
func (c *Client) DaemonVersion() corosync.Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version()
}

// clients is what one snapshot reads from.
type clients struct {
	q                  *quorum.Client
	vq                 *votequorum.Client
	cf                 *cfg.Client
	cm, st             *cmap.Client
	qErr, vqErr, cfErr error
	cmErr, stErr       error
	conf               *cmapPart
	confDirty          bool
	confGen            uint64
	changes            Changes
	stats, oneShot     bool
	version            corosync.Version
}

func (c *Client) clients() clients {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redial()
	return clients{
		q: c.q.c, vq: c.vq.c, cf: c.cf.c, cm: c.cm.c, st: c.st.c,
		qErr: c.q.err, vqErr: c.vq.err, cfErr: c.cf.err, cmErr: c.cm.err, stErr: c.st.err,
		conf: c.conf, confDirty: c.confGen != c.confLoadedGen || c.conf == nil || c.cfg.oneShot, confGen: c.confGen,
		changes: c.changes, stats: c.cfg.stats, oneShot: c.cfg.oneShot, version: c.version(),
	}
}

// notConnected is the cause of a part whose service is not connected.
func notConnected(svc string, dialErr error) error {
	if dialErr == nil {
		return fmt.Errorf("%s: %w", svc, ErrNotConnected)
	}
	return fmt.Errorf("%s: %w (%w)", svc, ErrNotConnected, dialErr)
}
