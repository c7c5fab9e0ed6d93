package corotest

import (
	"os"
	"strings"
	"testing"
)

// EnvDaemon names the variable that picks the daemon clusters run by
// default: COROSYNC_GO_DAEMON=<name> (default "system").
const EnvDaemon = "COROSYNC_GO_DAEMON"

// SystemDaemon is the name of the distribution's corosync (/usr/sbin).
const SystemDaemon = "system"

// Sparse limits a real-daemon test whose subject does not change with the
// daemon's version (client-side stream semantics, votequorum's decision
// code) to the system daemon and the builds named, so that the version
// matrix does not repeat it on every build: under COROSYNC_GO_DAEMON set
// to another build it skips, saying why. It is not a prerequisite check:
// it skips under COROSYNC_GO_INTEGRATION=require too.
func Sparse(t testing.TB, why string, builds ...string) {
	t.Helper()
	name := os.Getenv(EnvDaemon)
	if name == "" || name == SystemDaemon {
		return
	}
	for _, b := range builds {
		if b == name {
			return
		}
	}
	t.Skipf("corosync %s: not repeated on this build of the matrix (%s); it runs on the system daemon%s",
		name, why, orBuilds(builds))
}

func orBuilds(builds []string) string {
	if len(builds) == 0 {
		return ""
	}
	return " and on " + strings.Join(builds, ", ")
}
