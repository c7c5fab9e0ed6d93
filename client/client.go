// Package client holds what the service clients of this module share: the
// options every Dial accepts.
//
// quorum.Dial, votequorum.Dial, cfg.Dial, cmap.Dial and cpg.Dial all take
// ...client.Option. The options of this package (the transport, a logger,
// the retry backoff, waiting for the daemon, reconnection) work with each
// of them; a service adds its own on top (quorum.WithModel,
// cfg.WithShutdownTracking, cmap.WithMap):
//
//	c, err := quorum.Dial(ctx,
//		client.WithLogger(logger),
//		client.WithWaitForDaemon(),
//		quorum.WithModel(quorum.ModelV0))
//
// A service's option given to another service's Dial makes that Dial fail
// with corosync.ErrInvalidParam, naming the option.
//
// Every option switches one thing away from its default, and takes no
// argument when that thing is on or off: a client reconnects unless
// WithoutReconnect says otherwise, and fails at once when no daemon runs
// unless WithWaitForDaemon says otherwise.
package client

import (
	"errors"
	"fmt"
	"log/slog"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/transport"
)

// ErrNotConnected is the cause of every error from a request made while a
// client is reconnecting (its connection to the daemon was lost and has not
// come back yet); the error carries corosync.ErrLibrary, the code the C
// libraries return when the daemon went away. Every service re-exports this
// one value (quorum.ErrNotConnected, cmap.ErrNotConnected, ...), so
// errors.Is matches it whichever service failed.
var ErrNotConnected = errors.New("not connected to corosync (reconnecting)")

// Option configures a Dial: one of this package's, which every service
// accepts, or one of a service's own.
type Option struct {
	name    string
	common  func(*Settings)
	service any // func(*S) of the service whose settings are S
}

// Settings are what the common options decide. A Dial starts from
// DefaultSettings.
type Settings struct {
	// Dialer opens the connections; nil means transport.NewDialer, the
	// local corosync.
	Dialer transport.Dialer
	// Logger, if set, receives connection changes; nil is silent.
	Logger *slog.Logger
	// Backoff paces reconnection and TRY_AGAIN retries.
	Backoff corosync.Backoff
	// WaitForDaemon makes Dial retry while no daemon runs, until its ctx
	// ends.
	WaitForDaemon bool
	// Reconnect makes a client come back after a lost connection.
	Reconnect bool
}

// DefaultSettings returns what a Dial without options uses: reconnect,
// corosync.DefaultBackoff, fail at once when no daemon runs, silent.
func DefaultSettings() Settings {
	return Settings{Backoff: corosync.DefaultBackoff, Reconnect: true}
}

// WithDialer replaces the transport: a mock.Cluster's node in tests, or
// transport.NewDialer with a non-default transport.Config (another network
// namespace, a timeout).
func WithDialer(d transport.Dialer) Option {
	return common("client.WithDialer", func(s *Settings) { s.Dialer = d })
}

// WithLogger makes the client log connection changes with l: a lost
// connection and its recovery at INFO, each retry at DEBUG. Clients are
// silent without it.
func WithLogger(l *slog.Logger) Option {
	return common("client.WithLogger", func(s *Settings) { s.Logger = l })
}

// WithBackoff sets the pace of reconnection attempts and TRY_AGAIN retries
// (default corosync.DefaultBackoff).
func WithBackoff(b corosync.Backoff) Option {
	return common("client.WithBackoff", func(s *Settings) { s.Backoff = b })
}

// WithWaitForDaemon makes Dial wait, retrying with the backoff, for a
// daemon that is not running yet, instead of failing at once with
// corosync.ErrLibrary. Dial then fails only when its ctx ends, or on an
// error that retrying cannot fix (such as corosync.ErrAccess).
func WithWaitForDaemon() Option {
	return common("client.WithWaitForDaemon", func(s *Settings) { s.WaitForDaemon = true })
}

// WithoutReconnect turns automatic reconnection off: a lost connection
// ends the client's streams after their disconnection event, and every
// later call fails with corosync.ErrLibrary.
func WithoutReconnect() Option {
	return common("client.WithoutReconnect", func(s *Settings) { s.Reconnect = false })
}

func common(name string, f func(*Settings)) Option { return Option{name: name, common: f} }

// String returns the option's name, such as "client.WithLogger".
func (o Option) String() string { return o.name }

// ForService makes an option of one service: set changes that service's
// settings S. The service's Dial passes its *S to Apply; any other Dial
// refuses the option. It is how the service packages of this module build
// their own options, and how a package wrapping one of them can.
func ForService[S any](name string, set func(*S)) Option {
	return Option{name: name, service: set}
}

// Apply resolves opts for the Dial named dial (such as "quorum.Dial"):
// common options change the returned Settings, which start from
// DefaultSettings; options built by ForService[S] change *svc. An option
// of another service, or a zero Option, is corosync.ErrInvalidParam.
func Apply[S any](dial string, svc *S, opts []Option) (Settings, error) {
	s := DefaultSettings()
	for _, o := range opts {
		switch {
		case o.common != nil:
			o.common(&s)
		case o.service != nil:
			set, ok := o.service.(func(*S))
			if !ok {
				return s, corosync.NewError(dial, corosync.ErrInvalidParam,
					fmt.Errorf("%s is not an option of %s", o.name, dial))
			}
			set(svc)
		default:
			return s, corosync.NewError(dial, corosync.ErrInvalidParam, errors.New("a zero client.Option"))
		}
	}
	return s, nil
}
