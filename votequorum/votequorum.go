package votequorum

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/vqwire"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "votequorum"

// MaxVotes is the largest expected-votes or votes value SetExpected and
// SetVotes send. Corosync keeps quorum in 8 bits: from 510 expected votes on
// it wraps to a small number and a single node turns quorate. The value is
// measured on the daemons: 509 is the largest expected-votes value whose
// quorum, (expected+2)/2, still fits.
const MaxVotes = 509

// MaxQdeviceExtraInfo is the most extra info, in bytes, a quorum device may
// set (VOTEQUORUM_QDEVICE_EXTRA_NODEINFO_MAXSIZE, corosync main).
const MaxQdeviceExtraInfo = 4096

// MaxQdeviceNameLen is the longest quorum device name, in bytes. A name must
// be 1..MaxQdeviceNameLen bytes without a NUL byte: corosync's
// VOTEQUORUM_QDEVICE_MAX_NAME_LEN (255) less the NUL that ends it on the
// wire.
const MaxQdeviceNameLen = 254

var (
	// ErrClosed is the cause of errors from calls on a closed Client; they
	// carry corosync.ErrBadHandle, as libvotequorum reports calls after
	// finalize.
	ErrClosed = dispatch.ErrClosed
	// ErrNotConnected is the cause of errors from requests made while the
	// client is reconnecting; they carry corosync.ErrLibrary. It is
	// client.ErrNotConnected, in every service.
	ErrNotConnected = client.ErrNotConnected
)

// registerWait bounds waiting for the answer to a qdevice registration where
// the caller's context cannot be honoured (reconnect, Close). Corosync holds
// the answer until totem delivers the registration, and a connection closed
// while it is pending leaves the daemon with a dangling reference to it.
const registerWait = 30 * time.Second

// Client is a connection to the votequorum service. Its methods are safe
// for concurrent use; requests on its connection are sent one at a time.
type Client struct {
	s *session.Session[Event]

	mu        sync.Mutex
	qdevice   string // the device registered through this client, restored after reconnect
	extraInfo []byte // the extra info set through this client, restored with the device

	registered atomic.Bool // QdeviceRegister was called: Close waits for its answer
}

// Dial connects to the local corosync votequorum service, starts tracking
// and reads the current state. ctx bounds the whole handshake; TRY_AGAIN
// answers are retried with backoff until ctx ends.
//
// Errors carry corosync codes: corosync.ErrLibrary when corosync is not
// running (or runs without votequorum), corosync.ErrAccess when this user is
// not allowed (see the uidgid section of corosync.conf), corosync.ErrTimeout
// if ctx ended during the handshake.
func Dial(ctx context.Context, opts ...client.Option) (*Client, error) {
	cfg := config{}
	set, err := client.Apply("votequorum.Dial", &cfg, opts)
	if err != nil {
		return nil, err
	}
	cfg.Options = session.OptionsFrom(set)
	c := &Client{}
	s, err := session.Dial(ctx, vqwire.Requests, &tracker{c: c, log: cfg.Logger}, cfg.Options)
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

// Info returns what the daemon knows about node nodeID; 0 means this node
// (votequorum_getinfo). An unknown node is corosync.ErrNotExist. While the
// client is reconnecting it fails at once with ErrNotConnected
// (corosync.ErrLibrary).
func (c *Client) Info(ctx context.Context, nodeID uint32) (Info, error) {
	r, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqGetInfo, NodeID: nodeID})
	if err != nil {
		return Info{}, err
	}
	return infoFrom(r.Info), nil
}

// SetExpected sets the expected votes of the cluster
// (votequorum_setexpected). n must be 1..MaxVotes; the daemon refuses
// (corosync.ErrInvalidParam) a value below the total votes or one that would
// make a quorate cluster inquorate.
func (c *Client) SetExpected(ctx context.Context, n uint32) error {
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqSetExpected, ExpectedVotes: n})
	return err
}

// SetVotes sets the votes of a node or of the quorum device
// (votequorum_setvotes). votes must be at most MaxVotes. An unknown node is
// corosync.ErrNameNotFound. If the votes then exceed the expected votes, the
// daemon raises the expected votes (with a corosync.EventExpectedVotes) and
// does not lower them again.
//
// SetVotes also refuses, with corosync.ErrInvalidParam and before sending,
// a change that would bring the votes of every node the daemon has seen
// (dead ones included) and the quorum device's above MaxVotes: the daemon
// would raise the expected votes to that total, and its 8-bit quorum would
// wrap to 0 and make a lone node quorate, a state no later call can undo
// (measured on every release from 2.4.6 to main). It reads each node's
// votes first (one getinfo per node), so a concurrent change elsewhere can
// still race it.
func (c *Client) SetVotes(ctx context.Context, target Target, votes uint32) error {
	const op = "votequorum setvotes"
	if !target.valid {
		return corosync.NewError(op, corosync.ErrInvalidParam, errInvalidTarget)
	}
	if votes > MaxVotes {
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf("votes %d: must be at most %d (the daemon's quorum is 8-bit)", votes, MaxVotes))
	}
	total, err := c.totalVotes(ctx, target, votes)
	if err != nil {
		return err
	}
	if total > MaxVotes {
		return corosync.NewError(op, corosync.ErrInvalidParam, fmt.Errorf(
			"votes %d for %v would bring the cluster's votes to %d, above %d: the daemon's 8-bit quorum would wrap to 0", votes, target, total, MaxVotes))
	}
	_, err = c.call(ctx, vqwire.Request{ID: vqwire.ReqSetVotes, NodeID: target.id, Votes: votes})
	return err
}

// totalVotes returns the votes of every node the daemon has seen and of the
// quorum device, with target's replaced by votes.
func (c *Client) totalVotes(ctx context.Context, target Target, votes uint32) (uint32, error) {
	self, err := c.Info(ctx, 0)
	if err != nil {
		return 0, err
	}
	total := uint32(0)
	if target.IsQuorumDevice() {
		total = votes
	} else {
		total = self.QdeviceVotes
	}
	seen := false
	for _, n := range c.Latest().Nodes {
		if n.NodeID == vqwire.QdeviceNodeID {
			continue
		}
		if n.NodeID == target.id {
			seen = true
			total += votes
			continue
		}
		i, err := c.Info(ctx, n.NodeID)
		if errors.Is(err, corosync.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += i.NodeVotes
	}
	if !seen && !target.IsQuorumDevice() {
		total += votes // the daemon will refuse an unknown node anyway
	}
	return total, nil
}

// Subscribe returns a new subscription. Its first event is the current state
// (corosync.EventSnapshot), taken from the client's cache without a round trip.
// opts choose the delivery policy (package dispatch): dispatch.LatestWins
// (the default: a slow subscriber skips to the newest event and
// Event.Skipped says how many it missed), dispatch.Queue(n) (every event, in
// order; the subscription ends with dispatch.ErrOverflow when n are
// unread), dispatch.Unbounded() or dispatch.Block(n). The subscription is a
// *dispatch.Subscription: read it with Next, TryNext, Drain, Run, C or All.
func (c *Client) Subscribe(ctx context.Context, opts ...dispatch.SubOption) (*dispatch.Subscription[Event], error) {
	return c.s.Subscribe(ctx, opts...)
}

// Latest returns the client's current state: the last event delivered to
// subscribers, as a snapshot. Latest().Ring is the ring id QdevicePoll needs.
func (c *Client) Latest() Event { return c.s.Latest() }

// QdeviceRegister registers this node's quorum device under name
// (votequorum_qdevice_register). One name is valid cluster-wide: another
// name while one is registered is corosync.ErrExist; registering the same
// name again is a no-op. The daemon answers once the cluster has agreed.
//
// The registration is remembered: after a reconnect (the daemon restarted, or
// the connection broke) the client registers it again before it delivers
// corosync.EventReconnected. A device then still has to poll (QdevicePoll)
// with the ring of the snapshot that follows, as after every membership
// change.
func (c *Client) QdeviceRegister(ctx context.Context, name string) error {
	c.registered.Store(true)
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdeviceRegister, Name: name})
	if err == nil {
		c.mu.Lock()
		c.qdevice = name
		c.mu.Unlock()
	}
	return err
}

// QdeviceUnregister unregisters this node's quorum device
// (votequorum_qdevice_unregister): corosync.ErrNotExist if none is
// registered, corosync.ErrInvalidParam if name is not the registered name.
// The client stops restoring it after reconnects.
func (c *Client) QdeviceUnregister(ctx context.Context, name string) error {
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdeviceUnregister, Name: name})
	if err == nil || corosync.Code(err) == corosync.ErrNotExist {
		c.forgetQdevice(name)
	}
	return err
}

// QdeviceUpdate renames the registered quorum device from oldName to
// newName (votequorum_qdevice_update). The other nodes apply the rename when
// the cluster delivers it, a moment after this returns.
func (c *Client) QdeviceUpdate(ctx context.Context, oldName, newName string) error {
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdeviceUpdate, Name: oldName, NewName: newName})
	if err == nil {
		c.mu.Lock()
		if c.qdevice == oldName {
			c.qdevice = newName
		}
		c.mu.Unlock()
	}
	return err
}

// QdevicePoll tells the daemon the device is alive and whether it casts its
// votes (votequorum_qdevice_poll). ring must be the current ring
// (Latest().Ring, or the Ring of the last corosync.EventNodelist): a stale
// ring is corosync.ErrMessageError. A device must poll again within
// quorum.device.timeout (10 s by default), or the daemon marks it not alive
// and withdraws its votes; after each membership change the daemon's sync
// waits (up to quorum.device.sync_timeout) for a poll with the new ring.
func (c *Client) QdevicePoll(ctx context.Context, name string, castVote bool, ring corosync.RingID) error {
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdevicePoll, Name: name, CastVote: castVote,
		Ring: vqwire.RingID{NodeID: ring.NodeID, Seq: ring.Seq}})
	return err
}

// QdeviceMasterWins sets whether this node's device claims master-wins
// (votequorum_qdevice_master_wins): a node that is not quorate becomes
// quorate if any member node's device has master-wins and casts its vote.
func (c *Client) QdeviceMasterWins(ctx context.Context, name string, allow bool) error {
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdeviceMasterWins, Name: name, Allow: allow})
	return err
}

// SetQdeviceExtraInfo sets the extra info of this node's quorum device
// (votequorum_set_qdevice_extra_info): up to MaxQdeviceExtraInfo bytes the
// daemon copies verbatim to every node, where QdeviceExtraInfo returns them
// and trackers get a corosync.EventQdeviceExtraInfo. Empty info clears it;
// unregistering the device clears it too. corosync-quorumtool -X sets a
// string with its NUL, and -s prints a string that ends in one.
//
// Only corosync's main branch has it: on every release it fails with
// corosync.ErrNotSupported and nothing is sent (see DaemonVersion). The
// daemon answers corosync.ErrNotExist when no device is registered on this
// node and corosync.ErrAccess when its configuration allows no device;
// more than MaxQdeviceExtraInfo bytes is corosync.ErrInvalidParam, before
// anything is sent. When the device was registered through this client,
// the info is remembered with it: after a reconnect the client sets it
// again once it has registered the device again.
func (c *Client) SetQdeviceExtraInfo(ctx context.Context, info []byte) error {
	_, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdeviceSetExtraInfo, ExtraInfo: info})
	if err == nil {
		c.mu.Lock()
		if len(info) == 0 {
			c.extraInfo = nil
		} else {
			c.extraInfo = append([]byte{}, info...)
		}
		c.mu.Unlock()
	}
	return err
}

// QdeviceExtraInfo returns the extra info node nodeID's quorum device set
// (votequorum_get_qdevice_extra_info); empty if it set none. An unknown
// node is corosync.ErrNotExist; nodeID 0 is the quorum device's own entry
// (votequorum's node id of the device), which never has any.
//
// Only corosync's main branch has it: on every release it fails with
// corosync.ErrNotSupported and nothing is sent. The daemon answers
// corosync.ErrAccess when its configuration allows no quorum device.
func (c *Client) QdeviceExtraInfo(ctx context.Context, nodeID uint32) ([]byte, error) {
	r, err := c.call(ctx, vqwire.Request{ID: vqwire.ReqQdeviceGetExtraInfo, NodeID: nodeID})
	if err != nil {
		return nil, err
	}
	return r.ExtraInfo, nil
}

// DaemonVersion returns what the client learnt of the daemon's release
// when it last connected: a lower bound (see corosync.Version). Requests
// the daemon may not define fail with corosync.ErrNotSupported before
// anything is sent. Unlike the other services' clients, a votequorum
// client tells corosync's main branch (corosync.VersionMain) from 3.1.6,
// because main defines requests no release has (the quorum device's extra
// info): on a 3.1.6 daemon it asks cpg one question every release answers
// without doing anything (its cpg ZC_FREE of address 0), on a connection
// of its own that it closes at once.
func (c *Client) DaemonVersion() corosync.Version { return c.s.DaemonVersion() }

// Close ends every subscription, stops tracking (so that the daemon sends
// nothing to a closing connection, an error in its log), closes the
// connection and waits for the dispatcher goroutine to exit. It does not
// unregister a quorum device (the
// daemon keeps the registration; the device just stops being alive). If a
// registration's answer may still be pending, Close first waits for it, for
// up to 30 s: closing a connection with one pending corrupts the daemon's
// state. Close is idempotent.
func (c *Client) Close() error {
	if c.registered.Load() {
		if conn, err := c.s.Current(); err == nil {
			// Requests are answered in order: once this one is, no
			// registration is pending on the connection.
			ctx, cancel := context.WithTimeout(context.Background(), registerWait)
			call(ctx, conn, vqwire.Request{ID: vqwire.ReqGetInfo})
			cancel()
		}
	}
	return c.s.Close()
}

func (c *Client) qdeviceName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.qdevice
}

// forgetQdevice stops restoring name (and its extra info) after reconnects.
func (c *Client) forgetQdevice(name string) {
	c.mu.Lock()
	if c.qdevice == name {
		c.qdevice, c.extraInfo = "", nil
	}
	c.mu.Unlock()
}

// forgetExtraInfo stops restoring the extra info after reconnects.
func (c *Client) forgetExtraInfo() {
	c.mu.Lock()
	c.extraInfo = nil
	c.mu.Unlock()
}

func (c *Client) qdeviceExtraInfo() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.extraInfo
}

// call sends one request on the current connection.
func (c *Client) call(ctx context.Context, r vqwire.Request) (vqwire.Response, error) {
	conn, err := c.s.Current()
	if err != nil {
		return vqwire.Response{}, err
	}
	return call(ctx, conn, r)
}

// ops are the operation names of errors, by request id.
var ops = [...]string{
	vqwire.ReqGetInfo:             "votequorum getinfo",
	vqwire.ReqSetExpected:         "votequorum setexpected",
	vqwire.ReqSetVotes:            "votequorum setvotes",
	vqwire.ReqTrackStart:          "votequorum trackstart",
	vqwire.ReqTrackStop:           "votequorum trackstop",
	vqwire.ReqQdeviceRegister:     "votequorum qdevice_register",
	vqwire.ReqQdeviceUnregister:   "votequorum qdevice_unregister",
	vqwire.ReqQdeviceUpdate:       "votequorum qdevice_update",
	vqwire.ReqQdevicePoll:         "votequorum qdevice_poll",
	vqwire.ReqQdeviceMasterWins:   "votequorum qdevice_master_wins",
	vqwire.ReqQdeviceSetExtraInfo: "votequorum qdevice_set_extra_info",
	vqwire.ReqQdeviceGetExtraInfo: "votequorum qdevice_get_extra_info",
}

// call encodes r, sends it on conn and decodes the response. An answer
// that does not decode drops the connection (the session reconnects).
func call(ctx context.Context, conn *session.Conn, r vqwire.Request) (vqwire.Response, error) {
	bufs := bufPool.Get().(*callBufs)
	defer bufPool.Put(bufs)
	req, err := vqwire.AppendRequest(bufs.req[:0], r)
	if err != nil {
		return vqwire.Response{}, err
	}
	op := ops[r.ID]
	out, err := conn.Call(ctx, op, req, vqwire.ResponseFor(r.ID), bufs.resp[:0])
	if err != nil {
		switch r.ID {
		case vqwire.ReqGetInfo, vqwire.ReqSetVotes, vqwire.ReqQdeviceGetExtraInfo:
			err = session.Annotate(err, "node "+strconv.FormatUint(uint64(r.NodeID), 10))
		case vqwire.ReqQdeviceRegister, vqwire.ReqQdeviceUnregister, vqwire.ReqQdeviceUpdate, vqwire.ReqQdevicePoll, vqwire.ReqQdeviceMasterWins:
			err = session.Annotate(err, "qdevice "+strconv.Quote(r.Name))
		}
		return vqwire.Response{}, err
	}
	res, err := vqwire.DecodeResponse(out, r.ID)
	if err != nil {
		conn.Close()
		return res, corosync.NewError(op, corosync.ErrMessageError, err)
	}
	return res, nil
}

// callBufs holds one call's request and response; pooled so that a call
// allocates little.
type callBufs struct {
	req  [vqwire.UpdateRequestSize]byte
	resp [vqwire.GetInfoResponseSize + 64]byte // an extra info answer may grow it
}

var bufPool = sync.Pool{New: func() any { return new(callBufs) }}
