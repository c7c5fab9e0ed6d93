// Package transport is the port between corosync service clients (such as
// package quorum) and the IPC that carries their messages.
//
// A Conn carries whole service messages: requests out, their responses back
// in the same order, and asynchronous events. Two implementations exist: the
// pure-Go libqb IPC client in this package (Dial, NewDialer; Linux only, on
// other systems dialing fails with corosync.ErrNotSupported), and the fake
// cluster in package mock. Both answer the same conditions with the same
// corosync codes; package transporttest checks that.
package transport

import (
	"context"
	"errors"
	"fmt"

	corosync "github.com/corosync-go/corosync"
)

// Conn is one connection to one corosync IPC service.
//
// Request and ReadEvent may be called concurrently with each other. Requests
// from several goroutines are serialised by the Conn; only one goroutine may
// call ReadEvent at a time.
//
// Errors carry corosync codes, the same for every implementation:
//
//	ctx ended (cancelled or past its deadline)  corosync.ErrTimeout, and ctx's error
//	the Conn was closed by its owner            corosync.ErrBadHandle, and ErrClosed
//	the daemon went away                        corosync.ErrLibrary, and ErrDisconnected
//
// A call in flight when the connection is found dead fails with
// ErrDisconnected even if the owner closes the Conn before the call
// returns; a call made after Close fails with ErrClosed. ErrClosed is the
// owner's own doing: a client built on a Conn that closes it for another
// reason (a lost or broken connection) reports that reason to its callers
// instead (package session does).
type Conn interface {
	// Request sends one request message (a whole message, header included)
	// and waits for its response, which it appends to resp[:0] and returns.
	// If ctx ends first, Request returns an error carrying ctx's error and
	// the Conn stays usable: the abandoned response is consumed and
	// discarded, never returned to a later call.
	//
	// While the daemon applies flow control (libqb's flow-control word at
	// level 1) Request fails with corosync.ErrTryAgain and sends nothing;
	// at level 2 it goes through, as libqb lets it, unless opts say
	// otherwise (ThrottledAtLevel2).
	Request(ctx context.Context, req, resp []byte, opts ...RequestOption) ([]byte, error)

	// Send sends one message that the daemon does not answer (cpg's mcast)
	// and returns once it is written. Messages and requests keep their
	// order. While the daemon applies flow control at either level it
	// fails with corosync.ErrTryAgain and sends nothing: corosync raises
	// level 2 while totem's queue is critical, and libcpg stops its
	// multicasts there too; a sender that ignored it would fill the
	// daemon's queues without bound.
	Send(ctx context.Context, msg []byte) error

	// ReadEvent blocks until the next event arrives and returns it. The slice
	// is owned by the Conn and valid until the next ReadEvent call. If ctx
	// ends first, the Conn stays usable.
	ReadEvent(ctx context.Context) ([]byte, error)

	// Close releases the connection. It is idempotent and unblocks every
	// Request and ReadEvent in progress with an error matching ErrClosed.
	Close() error
}

// RequestOption modifies one Request.
type RequestOption struct {
	fcMax int32
}

// ThrottledAtLevel2 makes a Request refuse (corosync.ErrTryAgain) at
// flow-control level 2 too, as libcpg sends its fragmented multicasts
// (qb_ipcc_fc_enable_max_set(c, 2) around them).
func ThrottledAtLevel2() RequestOption { return RequestOption{fcMax: 2} }

// flowControlMax is the highest flow-control level at which a request with
// opts is refused: 1 by default (libqb's fc_enable_max).
func flowControlMax(opts []RequestOption) int32 {
	m := int32(1)
	for _, o := range opts {
		m = max(m, o.fcMax)
	}
	return m
}

// Dialer opens connections to a named corosync IPC service ("quorum",
// "votequorum", "cmap", ...).
//
// Dial errors carry corosync.ErrLibrary when no daemon listens,
// corosync.ErrTryAgain when the daemon is not ready yet, corosync.ErrAccess
// when it refuses this user, and corosync.ErrTimeout when ctx ends first.
type Dialer interface {
	Dial(ctx context.Context, service string) (Conn, error)
}

var (
	// ErrDisconnected matches every error caused by losing the connection to
	// the daemon (it stopped, crashed, or closed the connection). Such errors
	// also carry corosync.ErrLibrary, as libqb reports them.
	ErrDisconnected = errors.New("connection to corosync lost")
	// ErrClosed matches errors from a Conn that was closed by its owner.
	ErrClosed = errors.New("connection closed")
)

// The errors every Conn implementation returns for the conditions above.
// Implementations outside this package (mock) use them too, so that their
// answers cannot drift from the real connection's.

// ClosedError is the error of a call on a Conn closed by its owner.
func ClosedError(op string) error {
	return corosync.NewError(op, corosync.ErrBadHandle, ErrClosed)
}

// LostError is the error of a call on a Conn whose daemon went away; why
// and cause (which may be nil) say how that was noticed.
func LostError(op, why string, cause error) error {
	if cause == nil {
		return corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%w: %s", ErrDisconnected, why))
	}
	return corosync.NewError(op, corosync.ErrLibrary, fmt.Errorf("%w: %s: %w", ErrDisconnected, why, cause))
}

// CtxError is the error of a call whose ctx ended first: corosync.ErrTimeout
// (as libqb reports an expired wait), wrapping ctx's own error so that
// errors.Is(err, context.Canceled) tells a cancellation from a deadline.
func CtxError(op string, ctxErr error) error { return corosync.CtxError(op, ctxErr) }

// Batcher is implemented by a Conn that can pipeline requests (the libqb
// connection of this package).
type Batcher interface {
	// RequestBatch sends every request of reqs, then reads their responses
	// in order into resps[i][:0]; the capacity of resps[i] bounds response
	// i, and a longer one is a protocol error that drops the connection.
	// It returns how many responses it read: n == len(reqs) with a nil
	// error, else the error tells why the rest have no response.
	//
	// The batch is refused (corosync.ErrTooBig, nothing sent) when the
	// responses might not fit in the response ring together. While flow
	// control refuses a request, the ones before it are sent and answered,
	// and the error carries corosync.ErrTryAgain: reqs[n:] were not sent.
	// If ctx ends while responses are outstanding, they are consumed in
	// the background, as for Request, and the Conn stays usable. Any
	// other error leaves the Conn dead.
	RequestBatch(ctx context.Context, reqs, resps [][]byte, opts ...RequestOption) (int, error)
}

// MaxBatch is the most requests one RequestBatch sends.
const MaxBatch = 16
