package main

import (
	"os"
	"testing"

	"github.com/corosync-go/corosync/internal/corotest"
)

// matrix runs fn once per corosync daemon: the one COROSYNC_GO_DAEMON
// names when it is set, else every daemon of the version matrix
// (corotest.MatrixDaemons: the system's 3.1.7, 2.4.6, 3.0.4, 3.1.10, main,
// 3.1.10 on libqb 1.0.3), each as a subtest named after it. A daemon that
// is not built fails its subtest under COROSYNC_GO_INTEGRATION=require
// (corotest.Start) and skips it otherwise.
func matrix(t *testing.T, fn func(t *testing.T, d corotest.Daemon)) {
	names := corotest.MatrixDaemons
	if os.Getenv(corotest.EnvDaemon) != "" {
		names = []string{corotest.DefaultDaemon().Name}
	}
	for _, name := range names {
		d, _ := corotest.LookupDaemon(name)
		t.Run(name, func(t *testing.T) { fn(t, d) })
	}
}
