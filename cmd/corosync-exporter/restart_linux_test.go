package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// 20 daemon restarts (alternating kill -9 and SIGTERM) while a scraper hits
// the HTTP handler without pause: every response is a 200, corosync_up is 0
// while the daemon is away (and every other corosync metric withdrawn), and
// after each restart the values equal the tools' again.
func TestRealRestarts(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	coll := NewCollector(n.Dialer(), time.Second, nil)
	defer coll.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	srv := httptest.NewServer(handler(reg))
	defer srv.Close()

	var scrapes, bad atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(srv.URL)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "corosync_up ") {
					if bad.Add(1) == 1 {
						firstBad.Store(fmt.Sprintf("%d: %.300s", resp.StatusCode, body))
					}
				}
			}
			scrapes.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	waitUp(t, coll, 1)
	settle(t, coll, n, "start")
	for i := 0; i < 20; i++ {
		if i%2 == 0 {
			must(t, n.Kill())
		} else {
			must(t, n.Stop())
		}
		got := waitUp(t, coll, 0)
		for name := range got {
			if strings.HasPrefix(name, "ha_cluster_corosync_") || (strings.HasPrefix(name, "corosync_") && name != "corosync_up") {
				t.Fatalf("restart %d: %s still exported while corosync is down", i, name)
			}
		}
		if v, _ := find(got, "ha_cluster_scrape_success", nil); v != 0 {
			t.Fatalf("restart %d: scrape_success %v while corosync is down", i, v)
		}
		must(t, n.Start())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		must(t, n.WaitReady(ctx))
		cancel()
		waitUp(t, coll, 1)
		settle(t, coll, n, fmt.Sprintf("after restart %d", i))
	}
	if b := bad.Load(); b != 0 {
		t.Fatalf("%d of %d scrapes were not a 200 with corosync_up; first: %v", b, scrapes.Load(), firstBad.Load())
	}
	t.Logf("%d scrapes during 20 restarts, all 200", scrapes.Load())
}

// Between scrapes the exporter waits in the netpoller: no polling loop.
func TestRealIdleCPU(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	coll := NewCollector(cl.Node(1).Dialer(), time.Second, nil)
	defer coll.Close()
	waitUp(t, coll, 1)
	time.Sleep(200 * time.Millisecond)
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	time.Sleep(2 * time.Second)
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	used := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	t.Logf("CPU used by the whole test process in 2 s between scrapes: %v", used)
	if used > 50*time.Millisecond {
		t.Fatalf("an idle exporter used %v of CPU in 2 s", used)
	}
}

// The exporter as a separate process, running as nobody (admitted by a
// uidgid section, no sudo), inside the node's network namespace.
func TestRealNonRoot(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{AllowUsers: []string{"nobody"}})
	n := cl.Node(1)
	bin := filepath.Join(t.TempDir(), "corosync-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	os.Chmod(filepath.Dir(bin), 0o755)
	// As the packaged unit runs it: not root, no new privileges, no
	// capabilities (NoNewPrivileges=yes, CapabilityBoundingSet= empty).
	cmd := exec.Command("ip", "netns", "exec", n.NS, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--no-new-privs", "--bounding-set=-all", "--inh-caps=-all",
		bin, "--web.listen-address=127.0.0.1:9664")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	// An HTTP client whose sockets are made in the node's namespace.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = netns.Do(n.NetNSPath(), func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://127.0.0.1:9664/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "\ncorosync_up 1\n") && strings.Contains(string(body), "ha_cluster_corosync_quorate 1") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("as nobody: %s\nexporter log: %s", body, stderr.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("as nobody: %v\nexporter log: %s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The landing page is served too.
	resp, err := client.Get("http://127.0.0.1:9664/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("landing page: %v %v", err, resp)
	}
	resp.Body.Close()
}

// BenchmarkScrape measures one whole scrape through the HTTP handler (all
// reads and the encoding) against node 1 of a real 3-node cluster; BenchmarkToolsExec runs
// the two tools ha_cluster_exporter runs per scrape, for comparison.
func BenchmarkScrape(b *testing.B) {
	cl := corotest.Start(b, 3, corotest.Options{})
	coll := NewCollector(cl.Node(1).Dialer(), time.Second, nil)
	defer coll.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	h := handler(reg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if strings.Contains(rec.Body.String(), "\ncorosync_up 1\n") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("corosync never up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		lat = append(lat, time.Since(start))
	}
	reportP50(b, lat)
}

func BenchmarkToolsExec(b *testing.B) {
	cl := corotest.Start(b, 3, corotest.Options{})
	n := cl.Node(1)
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		n.Exec(context.Background(), "corosync-cfgtool", "-s")
		n.Exec(context.Background(), "corosync-quorumtool", "-p")
		lat = append(lat, time.Since(start))
	}
	reportP50(b, lat)
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slicesSort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
