package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	corosync "github.com/corosync-go/corosync"
	"github.com/corosync-go/corosync/cfg"
	"github.com/corosync-go/corosync/client"
	"github.com/corosync-go/corosync/mock"
	"github.com/corosync-go/corosync/quorum"
)

type settingsA struct{ n int }
type settingsB struct{}

func withN(n int) client.Option {
	return client.ForService("a.WithN", func(a *settingsA) { a.n = n })
}

func TestApply(t *testing.T) {
	d := mock.NewCluster(1).Node(1)
	l := slog.New(slog.DiscardHandler)
	b := corosync.Backoff{Initial: time.Millisecond}
	var a settingsA
	s, err := client.Apply("a.Dial", &a, []client.Option{
		client.WithDialer(d), client.WithLogger(l), client.WithBackoff(b),
		client.WithWaitForDaemon(), client.WithoutReconnect(), withN(7),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dialer != d || s.Logger != l || s.Backoff != b || !s.WaitForDaemon || s.Reconnect || a.n != 7 {
		t.Errorf("Apply: %+v, service %+v", s, a)
	}
	def, err := client.Apply("a.Dial", &a, nil)
	if err != nil || def != client.DefaultSettings() {
		t.Errorf("Apply without options: %+v, %v; want the defaults %+v", def, err, client.DefaultSettings())
	}
	if want := (client.Settings{Backoff: corosync.DefaultBackoff, Reconnect: true}); client.DefaultSettings() != want {
		t.Errorf("DefaultSettings: %+v, want %+v", client.DefaultSettings(), want)
	}
}

func TestApplyRefusesForeignAndZeroOptions(t *testing.T) {
	var b settingsB
	_, err := client.Apply("b.Dial", &b, []client.Option{withN(1)})
	if !errors.Is(err, corosync.ErrInvalidParam) || !strings.Contains(err.Error(), "a.WithN is not an option of b.Dial") {
		t.Errorf("foreign option: %v; want ErrInvalidParam naming a.WithN and b.Dial", err)
	}
	_, err = client.Apply("b.Dial", &b, []client.Option{{}})
	if !errors.Is(err, corosync.ErrInvalidParam) || !strings.Contains(err.Error(), "zero client.Option") {
		t.Errorf("zero option: %v; want ErrInvalidParam", err)
	}
	if got := withN(1).String(); got != "a.WithN" {
		t.Errorf("String: %q", got)
	}
}

// A service's own option given to another service's Dial fails it before
// anything is sent.
func TestDialRefusesAnotherServicesOption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node := mock.NewCluster(1).Node(1)
	_, err := quorum.Dial(ctx, client.WithDialer(node), cfg.WithShutdownTracking())
	if !errors.Is(err, corosync.ErrInvalidParam) || !strings.Contains(err.Error(), "cfg.WithShutdownTracking is not an option of quorum.Dial") {
		t.Errorf("quorum.Dial(cfg.WithShutdownTracking()): %v", err)
	}
	if n := node.Connections(); n != 0 {
		t.Errorf("%d connections reached the node; want 0", n)
	}
}

// Every service's Dial takes the same common options, and its own on top.
func Example() {
	ctx := context.Background()
	cluster := mock.NewCluster(3) // on a real node, drop client.WithDialer
	c, err := quorum.Dial(ctx,
		client.WithDialer(cluster.Node(1)),
		client.WithBackoff(corosync.Backoff{Initial: 10 * time.Millisecond, Max: time.Second}),
		quorum.WithModel(quorum.ModelV1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	q, _ := c.Quorate(ctx)
	fmt.Println("quorate:", q)
	// Output: quorate: true
}
