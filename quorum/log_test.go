package quorum_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) lines(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		if rec.Level == level {
			out = append(out, rec.Time.Format("15:04:05.000")+" "+rec.Message)
		}
	}
	return out
}

// A 60-second outage of the local corosync, with the default backoff (a
// retry about every 250 ms), logs at INFO the loss, the first failed
// attempt, "still unreachable" at 10 s and 30 s (then 70 s, 150 s, ...:
// each gap twice the last, at most 10 minutes) and the recovery; every
// retry is at DEBUG.
func TestOutageLogsQuietly(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60-second outage; -short skips it")
	}
	corotest.Sparse(t, "a mock test")
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := mock.NewCluster(3)
	rec := &logRecorder{}
	c, err := quorum.Dial(ctx, client.WithDialer(cl.Node(1)), client.WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	cl.Kill(1)
	time.Sleep(60 * time.Second)
	cl.Start(1)
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == corosync.EventReconnected {
			break
		}
	}
	info, debug := rec.lines(slog.LevelInfo), rec.lines(slog.LevelDebug)
	t.Logf("INFO:\n%s\n%d DEBUG lines", strings.Join(info, "\n"), len(debug))
	want := []string{"connection to corosync lost", "cannot connect to corosync; retrying",
		"corosync still unreachable; retrying", "corosync still unreachable; retrying", "reconnected to corosync"}
	if len(info) != len(want) {
		t.Fatalf("%d INFO lines, want %d: %q", len(info), len(want), want)
	}
	for i, w := range want {
		if !strings.HasSuffix(info[i], " "+w) {
			t.Errorf("INFO line %d: %q, want %q", i, info[i], w)
		}
	}
	// About 4 retries a second, less the INFO ones.
	if len(debug) < 150 || len(debug) > 300 {
		t.Errorf("%d DEBUG lines for a 60 s outage; want one per retry (150-300)", len(debug))
	}
	if n := len(rec.lines(slog.LevelWarn)) + len(rec.lines(slog.LevelError)); n != 0 {
		t.Errorf("%d lines at WARN or ERROR", n)
	}
}
