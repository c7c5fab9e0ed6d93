package mock

import (
	"context"
	"errors"
	"sync"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/internal/wire"
	"github.com/corosync-go/corosync/transport"
)

// handler is one service's side of a connection. It answers one request
// (appending the response to out) with the cluster mutex held.
type handler interface {
	handle(req, out []byte) []byte
}

// conn is one client connection of any service: its event queue (guarded
// by qmu) and its lifecycle. What the daemon answers is its handler's.
type conn struct {
	n       *Node
	service string
	h       handler       // the service's side; guarded by the cluster mutex
	reqs    chan struct{} // one request at a time, as on a real connection
	held    chan []byte   // set by a handler whose reply comes later; cluster mutex

	qmu     sync.Mutex
	queue   [][]byte
	dead    error
	closed  bool
	notify  chan struct{}
	done    chan struct{} // closed on kill or Close
	doneOne sync.Once
	buf     []byte
}

func (cn *conn) push(b []byte) {
	cn.qmu.Lock()
	cn.queue = append(cn.queue, b)
	cn.qmu.Unlock()
	select {
	case cn.notify <- struct{}{}:
	default:
	}
}

// EventPending reports whether an event is queued, as the real
// transport's does (transport.IPCConn.EventPending).
func (cn *conn) EventPending() bool {
	cn.qmu.Lock()
	defer cn.qmu.Unlock()
	return len(cn.queue) > 0
}

func (cn *conn) kill(why string) {
	cn.qmu.Lock()
	if cn.dead == nil {
		cn.dead = transport.LostError(cn.service, why, nil)
	}
	cn.qmu.Unlock()
	cn.doneOne.Do(func() { close(cn.done) })
}

func (cn *conn) state(op string) error {
	cn.qmu.Lock()
	defer cn.qmu.Unlock()
	if cn.closed {
		return transport.ClosedError(op)
	}
	return cn.dead
}

// Request implements transport.Conn.
func (cn *conn) Request(ctx context.Context, req, resp []byte, _ ...transport.RequestOption) ([]byte, error) {
	op := cn.service + " request"
	if err := cn.state(op); err != nil {
		return resp[:0], err
	}
	if err := ctx.Err(); err != nil {
		return resp[:0], transport.CtxError(op, err)
	}
	select {
	case cn.reqs <- struct{}{}:
	case <-ctx.Done():
		return resp[:0], transport.CtxError(op, ctx.Err())
	case <-cn.done:
		return resp[:0], cn.state(op)
	}
	release := true
	defer func() {
		if release {
			<-cn.reqs
		}
	}()
	n := cn.n
	n.c.mu.Lock()
	if n.tryReqs > 0 {
		n.tryReqs--
		n.c.mu.Unlock()
		return wire.AppendReject(resp[:0], corosync.ErrTryAgain), nil
	}
	out := cn.h.handle(req, resp[:0])
	held := cn.held
	cn.held = nil
	n.c.mu.Unlock()
	if held == nil {
		return out, nil
	}
	// The daemon holds this reply back until it decides (cfg shutdown).
	// Like the real connection, a caller that gives up leaves the request
	// lock held until the reply comes, and the reply is discarded.
	select {
	case r := <-held:
		return append(resp[:0], r...), nil
	case <-cn.done:
		select {
		case r := <-held: // answered just before the daemon stopped
			return append(resp[:0], r...), nil
		default:
		}
		return resp[:0], cn.state(op)
	case <-ctx.Done():
		release = false
		go func() {
			select {
			case <-held:
			case <-cn.done:
			}
			<-cn.reqs
		}()
		return resp[:0], transport.CtxError(op, ctx.Err())
	}
}

// Send implements transport.Conn. Only a service with messages that get no
// response (cpg's mcast) takes them; the others refuse with
// CS_ERR_INVALID_PARAM, where the real daemon would answer into a ring that
// nobody reads.
func (cn *conn) Send(ctx context.Context, msg []byte) error {
	op := cn.service + " request"
	if err := cn.state(op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return transport.CtxError(op, err)
	}
	select {
	case cn.reqs <- struct{}{}:
	case <-ctx.Done():
		return transport.CtxError(op, ctx.Err())
	case <-cn.done:
		return cn.state(op)
	}
	defer func() { <-cn.reqs }()
	n := cn.n
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	s, ok := cn.h.(oneWay)
	if !ok {
		return corosync.NewError(op, corosync.ErrInvalidParam, errors.New("the "+cn.service+" service has no one-way messages"))
	}
	return s.send(msg)
}

// oneWay is a handler that takes messages without a response.
type oneWay interface {
	send(msg []byte) error
}

// hold makes the current request's reply come later, through the returned
// channel. Called by a handler, with the cluster mutex held.
func (cn *conn) hold() chan []byte {
	cn.held = make(chan []byte, 1)
	return cn.held
}

// ReadEvent implements transport.Conn.
func (cn *conn) ReadEvent(ctx context.Context) ([]byte, error) {
	for {
		cn.qmu.Lock()
		switch {
		case cn.closed:
			cn.qmu.Unlock()
			return nil, transport.ClosedError(cn.service + " event")
		case len(cn.queue) > 0:
			cn.buf = append(cn.buf[:0], cn.queue[0]...)
			cn.queue[0] = nil
			cn.queue = cn.queue[1:]
			cn.qmu.Unlock()
			return cn.buf, nil
		case cn.dead != nil:
			err := cn.dead
			cn.qmu.Unlock()
			return nil, err
		}
		cn.qmu.Unlock()
		select {
		case <-cn.notify:
		case <-cn.done:
		case <-ctx.Done():
			return nil, transport.CtxError(cn.service+" event", ctx.Err())
		}
	}
}

// Close implements transport.Conn.
func (cn *conn) Close() error {
	cn.qmu.Lock()
	cn.closed = true
	cn.queue = nil
	cn.qmu.Unlock()
	cn.doneOne.Do(func() { close(cn.done) })
	cn.n.c.mu.Lock()
	delete(cn.n.conns, cn)
	cn.n.c.mu.Unlock()
	return nil
}

var _ transport.Dialer = (*Node)(nil)
