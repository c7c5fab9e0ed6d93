package votequorum_test

import (
	"context"
	"testing"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/session"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/votequorum"
)

// BenchmarkDial times a whole votequorum Dial and Close (the release probe,
// trackstart and its snapshot, getinfo, then trackstop) against the daemon
// under test (COROSYNC_GO_DAEMON), and, in the same run, the part of it
// that tells corosync main from 3.1.x (session.ProbeMain: a cpg connection
// and one ZC_FREE), which a Dial pays on 3.1.6 and later only.
func BenchmarkDial(b *testing.B) {
	cl := corotest.Start(b, 1, corotest.Options{})
	d := cl.Node(1).Dialer()
	ctx := context.Background()
	b.Run("dial-close", func(b *testing.B) {
		for b.Loop() {
			c, err := votequorum.Dial(ctx, client.WithDialer(d))
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("main-probe", func(b *testing.B) {
		for b.Loop() {
			if _, err := session.ProbeMain(ctx, d, corosync.DefaultBackoff); err != nil {
				b.Fatal(err)
			}
		}
	})
}
