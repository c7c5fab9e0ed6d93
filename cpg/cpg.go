package cpg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/dispatch"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/wire/cpgwire"
)

// ServiceName is the corosync IPC service this package talks to.
const ServiceName = "cpg"

// Limits of corosync 3.1.7.
const (
	// MaxNameLen is the longest group name, in bytes: corosync's
	// CPG_MAX_NAME_LENGTH. Pacemaker's names count their trailing NUL, so
	// its longest are 127 characters plus the NUL.
	MaxNameLen = 128
	// MaxAtomicMessage is the largest message sent as one mcast (libcpg's
	// cpg_max_atomic_msgsize_get). Larger messages are sent in fragments
	// of this size and reassembled by every receiver (libcpg's too).
	MaxAtomicMessage = 1047552
	// MaxMessage is the largest message Send takes (the wire's 32-bit
	// length). Every receiver holds a whole message in memory.
	MaxMessage = 1<<32 - 1
)

var (
	// ErrClosed is the cause of errors from calls on a closed Client or
	// Group, and of the end of a closed group's stream; they carry
	// corosync.ErrBadHandle. It is dispatch.ErrClosed, in every service.
	ErrClosed = dispatch.ErrClosed
	// ErrNotConnected is the cause of errors from requests made while the
	// client is reconnecting; they carry corosync.ErrLibrary. It is
	// client.ErrNotConnected, in every service.
	ErrNotConnected = client.ErrNotConnected
	// ErrLeft ends a group's stream after Leave, once its own leave confchg
	// has been delivered. It carries corosync.ErrBadHandle.
	ErrLeft = corosync.NewError(ServiceName, corosync.ErrBadHandle, errors.New("left the group"))
	// ErrMembershipLost ends a group's stream (without WithRejoin) after
	// the connection to the daemon was lost: the daemon forgot the
	// membership. The error carries dispatch.ErrLost and
	// corosync.ErrLibrary too, as every stream lost without reconnection.
	ErrMembershipLost = errors.New("the connection to corosync was lost, and with it the group membership")
	// ErrOverflow ends the stream of a Queue group whose reader fell
	// behind; the group then leaves (its connection is closed) rather than
	// skip a message. It is dispatch.ErrOverflow, in every service, and
	// the error carries corosync.ErrQueueFull.
	ErrOverflow = dispatch.ErrOverflow
)

// detachedWait bounds the requests the client completes after the caller's
// ctx ended (finalize after a leave, iteration finalize).
const detachedWait = 5 * time.Second

// Client is a connection to the local cpg service for the questions that
// need no membership (LocalNodeID, Members, Groups), and the factory of
// groups: each Join opens a connection of its own, because corosync lets a
// connection join one group, once (see Join). Its methods are safe for
// concurrent use.
type Client struct {
	s    *session.Session[Event]
	cfg  config
	iter sync.Mutex // one iteration at a time: the daemon's iterator is per connection

	mu     sync.Mutex
	groups map[*Group]struct{}
	closed bool
}

// Dial connects to the local corosync cpg service. ctx bounds the
// handshake; TRY_AGAIN answers are retried with backoff until ctx ends.
// Errors carry corosync codes: corosync.ErrLibrary when corosync is not
// running, corosync.ErrAccess when this user is not allowed.
func Dial(ctx context.Context, opts ...client.Option) (*Client, error) {
	cfg := config{}
	set, err := client.Apply("cpg.Dial", &cfg, opts)
	if err != nil {
		return nil, err
	}
	cfg.Options = session.OptionsFrom(set)
	s, err := session.Dial(ctx, cpgwire.Requests, controlService{}, cfg.Options)
	if err != nil {
		return nil, err
	}
	return &Client{s: s, cfg: cfg, groups: map[*Group]struct{}{}}, nil
}

// DaemonVersion returns what the client learnt of the daemon's release
// when it last connected: a lower bound (see corosync.Version). Requests
// the daemon may not define fail with corosync.ErrNotSupported before
// anything is sent.
func (c *Client) DaemonVersion() corosync.Version { return c.s.DaemonVersion() }

// Close leaves nothing: it closes every group of the client (as Group.Close:
// the other members see them go with reason procdown) and the client's own
// connection. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	gs := make([]*Group, 0, len(c.groups))
	for g := range c.groups {
		gs = append(gs, g)
	}
	c.mu.Unlock()
	for _, g := range gs {
		g.Close()
	}
	return c.s.Close()
}

// LocalNodeID returns the local node's id (cpg_local_get).
func (c *Client) LocalNodeID(ctx context.Context) (uint32, error) {
	return localNodeID(ctx, c.s)
}

// Members returns the current members of group as the local node sees them
// (cpg_membership_get), sorted by node id and pid. The caller need not be
// a member. A group nobody joined has no members (no error).
func (c *Client) Members(ctx context.Context, group string) ([]Member, error) {
	return membership(ctx, c.s, group)
}

// GroupMember is one entry of Groups: a group and one of its members.
type GroupMember struct {
	Group string
	Member
}

// Groups returns every member of every group the local node knows of
// (cpg_iteration with CPG_ITERATION_ALL), grouped by group name in the
// daemon's order.
func (c *Client) Groups(ctx context.Context) ([]GroupMember, error) {
	var out []GroupMember
	err := c.iterate(ctx, cpgwire.IterAll, func(e cpgwire.IterationEntry) {
		out = append(out, GroupMember{Group: string(e.Group), Member: Member{NodeID: e.NodeID, PID: e.PID}})
	})
	return out, err
}

// GroupNames returns the names of the groups the local node knows of
// (CPG_ITERATION_NAME_ONLY).
func (c *Client) GroupNames(ctx context.Context) ([]string, error) {
	var out []string
	err := c.iterate(ctx, cpgwire.IterNameOnly, func(e cpgwire.IterationEntry) {
		out = append(out, string(e.Group))
	})
	return out, err
}

// iterate runs one daemon iteration to its end (NO_SECTIONS; the daemon's
// next call would wrap around) and always finalises it.
func (c *Client) iterate(ctx context.Context, typ cpgwire.IterationType, f func(cpgwire.IterationEntry)) error {
	c.iter.Lock()
	defer c.iter.Unlock()
	conn, err := c.s.Current()
	if err != nil {
		return err
	}
	var resp [cpgwire.IterNextResponseSize + 64]byte
	r, err := call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqIterInitialize, IterType: typ}, resp[:0])
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedWait)
		call(dctx, conn, cpgwire.Request{ID: cpgwire.ReqIterFinalize, Handle: r.Handle}, resp[:0])
		cancel()
	}()
	for {
		e, err := call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqIterNext, Handle: r.Handle}, resp[:0])
		if errors.Is(err, corosync.ErrNoSections) {
			return nil
		}
		if err != nil {
			return err
		}
		f(e.Entry)
	}
}

// call encodes r, sends it on conn and decodes the answer.
func call(ctx context.Context, conn *session.Conn, r cpgwire.Request, resp []byte) (cpgwire.Response, error) {
	op := "cpg " + cpgwire.RequestName(r.ID)
	req, err := cpgwire.AppendRequest(make([]byte, 0, cpgwire.RequestSize(r.ID)), r)
	if err != nil {
		return cpgwire.Response{}, err
	}
	out, err := conn.Call(ctx, op, req, cpgwire.ResponseFor(r.ID), resp)
	if err != nil {
		return cpgwire.Response{}, err
	}
	res, err := cpgwire.DecodeResponse(out, r.ID)
	if err != nil {
		conn.Close()
		return res, corosync.NewError(op, corosync.ErrMessageError, err)
	}
	return res, nil
}

func localNodeID(ctx context.Context, s *session.Session[Event]) (uint32, error) {
	conn, err := s.Current()
	if err != nil {
		return 0, err
	}
	var resp [64]byte
	r, err := call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqLocalGet}, resp[:0])
	return r.LocalNodeID, err
}

func membership(ctx context.Context, s *session.Session[Event], group string) ([]Member, error) {
	if err := cpgwire.Name(group).Check("cpg membership_get"); err != nil {
		return nil, err
	}
	conn, err := s.Current()
	if err != nil {
		return nil, err
	}
	resp := make([]byte, 0, cpgwire.MembershipResponseSize)
	r, err := call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqMembership, Group: cpgwire.Name(group)}, resp)
	if err != nil {
		return nil, err
	}
	return members(r.Members), nil
}

// finalize sends CPG_FINALIZE on conn, as cpg_finalize does before it
// disconnects: the daemon then sends no more events to it.
func finalize(ctx context.Context, conn *session.Conn) {
	var resp [64]byte
	call(ctx, conn, cpgwire.Request{ID: cpgwire.ReqFinalize}, resp[:0])
}

func opErr(op string, code corosync.Error, format string, args ...any) error {
	return corosync.NewError(op, code, fmt.Errorf(format, args...))
}
