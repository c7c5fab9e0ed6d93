// Package transport is the port between corosync service clients (such as
// package quorum) and the IPC that carries their messages.
//
// A Conn carries whole service messages: requests out, their responses back
// in the same order, and asynchronous events. Two implementations exist: the
// pure-Go libqb IPC client in this package (Dialer, the default), and the
// fake cluster in package mock.
package transport

import (
	"context"
	"errors"
)

// Conn is one connection to one corosync IPC service.
//
// Request and ReadEvent may be called concurrently with each other. Requests
// from several goroutines are serialised by the Conn; only one goroutine may
// call ReadEvent at a time.
type Conn interface {
	// Request sends one request message (a whole message, header included)
	// and waits for its response, which it appends to resp[:0] and returns.
	// If ctx ends first, Request returns ctx's error and the Conn stays usable:
	// the abandoned response is consumed and discarded, never returned to a
	// later call.
	Request(ctx context.Context, req, resp []byte) ([]byte, error)

	// ReadEvent blocks until the next event arrives and returns it. The slice
	// is owned by the Conn and valid until the next ReadEvent call.
	// A lost connection gives an error that matches ErrDisconnected.
	ReadEvent(ctx context.Context) ([]byte, error)

	// Close releases the connection. It is idempotent and unblocks every
	// Request and ReadEvent in progress with an error matching ErrClosed.
	Close() error
}

// Dialer opens connections to a named corosync IPC service ("quorum",
// "votequorum", "cmap", ...).
type Dialer interface {
	Dial(ctx context.Context, service string) (Conn, error)
}

// DialerFunc adapts a function to the Dialer interface.
type DialerFunc func(ctx context.Context, service string) (Conn, error)

// Dial calls f.
func (f DialerFunc) Dial(ctx context.Context, service string) (Conn, error) { return f(ctx, service) }

var (
	// ErrDisconnected matches every error caused by losing the connection to
	// the daemon (it stopped, crashed, or closed the connection). Such errors
	// also carry corosync.ErrLibrary, as libqb reports them.
	ErrDisconnected = errors.New("connection to corosync lost")
	// ErrClosed matches errors from a Conn that was closed by its owner.
	ErrClosed = errors.New("connection closed")
)
