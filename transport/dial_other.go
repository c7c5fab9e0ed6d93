//go:build !linux

package transport

import (
	"context"
	"errors"
	"runtime"

	corosync "github.com/corosync-go/corosync"
)

// IPCConn is the libqb shared-memory connection. It exists only on Linux;
// elsewhere Dial fails and no IPCConn is ever returned.
type IPCConn struct{ Conn }

// Dial fails with corosync.ErrNotSupported: corosync and its libqb IPC run
// only on Linux. Use package mock to test code on this system.
func Dial(ctx context.Context, service string, cfg Config) (*IPCConn, error) {
	return nil, corosync.NewError("dial "+service, corosync.ErrNotSupported,
		errors.New("the libqb IPC transport needs Linux (this is "+runtime.GOOS+"); use package mock for tests"))
}
