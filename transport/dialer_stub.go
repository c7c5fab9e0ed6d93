package transport

import "log/slog"

// Config configures the libqb IPC client.
type Config struct {
	Logger *slog.Logger
}

// NewDialer returns the pure-Go libqb IPC dialer.
func NewDialer(cfg Config) Dialer { return nil }
