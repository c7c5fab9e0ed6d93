package transport

import (
	"context"
	"log/slog"
	"time"
)

// Config configures the libqb IPC client. The zero value is what libquorum
// does, plus the safety checks libquorum lacks.
type Config struct {
	// AllowNonRootServer accepts a daemon that does not run as root. By
	// default the client refuses it: any local user can bind an abstract
	// socket name and impersonate corosync.
	AllowNonRootServer bool

	// NetNS is the path of a network namespace (for example
	// /var/run/netns/NAME or /proc/PID/ns/net) whose corosync to talk to.
	// Abstract sockets belong to a network namespace; empty means ours. The
	// namespace is entered on a throwaway thread, never the caller's.
	NetNS string

	// SocketDir is where filesystem sockets live when
	// /etc/libqb/force-filesystem-sockets exists (Debian's libqb: /tmp).
	SocketDir string

	// ForceSocketsFile is the flag file that makes libqb use filesystem
	// sockets. Empty means /etc/libqb/force-filesystem-sockets.
	ForceSocketsFile string

	// SpinWait is how long a request polls for its response before it
	// sleeps; zero means the default (50µs on machines with more than one
	// CPU, none on a single CPU), negative disables polling. Polling yields
	// to the OS scheduler between checks, so it never delays the daemon.
	SpinWait time.Duration

	// Logger receives debug messages about unusual protocol events. Nil
	// (the default) is silent.
	Logger *slog.Logger

	// maxMsg is the ring size asked of the daemon; zero means 1 MiB, what
	// every corosync client library asks for. Tests shrink it so the rings
	// wrap often.
	maxMsg uint32
}

type dialer struct{ cfg Config }

// NewDialer returns the pure-Go libqb IPC (shared-memory) dialer.
func NewDialer(cfg Config) Dialer { return dialer{cfg} }

// Dial implements Dialer.
func (d dialer) Dial(ctx context.Context, service string) (Conn, error) {
	c, err := Dial(ctx, service, d.cfg)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return c, nil
}
