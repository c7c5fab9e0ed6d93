package mock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/cmap"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

// A mock made to look like an older release makes clients fall back and
// refuse as they do against that release's real daemon (internal/testkit/matrix
// runs the same calls against the real ones).
func TestWithDaemonVersion(t *testing.T) {
	for _, tc := range []struct {
		v         corosync.Version
		model     quorum.Model
		v31, v3_0 bool
	}{
		{corosync.Version2_4, quorum.ModelV0, false, false},
		{corosync.Version3_0, quorum.ModelV0, false, true},
		{corosync.Version3_1_6, quorum.ModelV1, true, true},
	} {
		t.Run(tc.v.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := mock.NewCluster(3, mock.WithDaemonVersion(tc.v))
			d := c.Node(1)
			notSupported := func(what string, err error, supported bool) {
				t.Helper()
				if supported && err != nil {
					t.Errorf("%s on %v: %v", what, tc.v, err)
				}
				if !supported && !errors.Is(err, corosync.ErrNotSupported) {
					t.Errorf("%s on %v = %v, want ErrNotSupported", what, tc.v, err)
				}
			}

			q, err := quorum.Dial(ctx, client.WithDialer(d))
			if err != nil {
				t.Fatal(err)
			}
			if q.Model() != tc.model || q.DaemonVersion() != tc.v {
				t.Errorf("default Dial: model %v, daemon %v; want %v, %v", q.Model(), q.DaemonVersion(), tc.model, tc.v)
			}
			if ok, err := q.Quorate(ctx); err != nil || !ok {
				t.Errorf("Quorate = %v, %v", ok, err)
			}
			sub, err := q.Subscribe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := sub.Next(ctx); err != nil || !ev.Quorate || len(ev.Members) != 3 {
				t.Errorf("first event %+v, %v", ev, err)
			}
			q.Close()
			q1, err := quorum.Dial(ctx, client.WithDialer(d), quorum.WithModel(quorum.ModelV1))
			notSupported("quorum.Dial(WithModel(ModelV1))", err, tc.v31)
			if q1 != nil {
				q1.Close()
			}

			cf, err := cfg.Dial(ctx, client.WithDialer(d))
			if err != nil {
				t.Fatal(err)
			}
			_, err = cf.NodeStatus(ctx, 2)
			notSupported("cfg NodeStatus", err, tc.v31)
			notSupported("cfg ReopenLog", cf.ReopenLog(ctx), tc.v3_0)
			if rs, err := cf.RingStatus(ctx); err != nil || len(rs) == 0 {
				t.Errorf("cfg RingStatus = %v, %v", rs, err)
			}
			cf.Close()
			ct, err := cfg.Dial(ctx, client.WithDialer(d), cfg.WithShutdownTracking())
			notSupported("cfg.Dial(WithShutdownTracking)", err, tc.v31)
			if ct != nil {
				ct.Close()
			}

			st, err := cmap.Dial(ctx, client.WithDialer(d), cmap.WithMap(cmap.MapStats))
			notSupported("cmap.Dial(WithMap(MapStats))", err, tc.v3_0)
			if st != nil {
				st.Close()
			}
		})
	}
}
