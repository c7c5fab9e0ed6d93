// Command corosync-exporter is a Prometheus exporter for corosync that
// starts no processes: it reads corosync's quorum, votequorum and cfg
// services over their IPC (the clients of this module), keeps quorum state
// from corosync's own notifications, and reads votes and link status on each
// scrape within a deadline.
//
// It serves ClusterLabs ha_cluster_exporter's corosync metrics under the
// same names, labels and meaning (ha_cluster_corosync_quorate, _rings,
// _ring_errors, _member_votes, _quorum_votes, ha_cluster_scrape_*), correct
// on knet clusters, plus corosync_* metrics that exec-and-parse cannot give.
// See README.md beside this file.
//
// Usage:
//
//	corosync-exporter [--web.listen-address=:9664] [--web.config.file=FILE]
//	                  [--web.telemetry-path=/metrics] [--corosync.timeout=1s]
//
// It needs no root: run it as a user that corosync's uidgid configuration
// admits (for example a file /etc/corosync/uidgid.d/exporter with
// "uidgid { uid: prometheus }").
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/corosync-go/corosync/transport"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("corosync-exporter", flag.ContinueOnError)
	listen := fs.String("web.listen-address", ":9664", "address to listen on for the metrics (ha_cluster_exporter's port)")
	configFile := fs.String("web.config.file", "", "exporter-toolkit web configuration file (TLS, basic auth)")
	path := fs.String("web.telemetry-path", "/metrics", "path under which to expose the metrics")
	timeout := fs.Duration("corosync.timeout", time.Second, "deadline of the corosync reads of one scrape")
	netns := fs.String("corosync.netns", "", "network namespace whose corosync to read (for tests); empty: this one")
	debug := fs.Bool("log.debug", false, "log connection changes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	coll := NewCollector(transport.NewDialer(transport.Config{NetNS: *netns}), *timeout, logger)
	defer coll.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	mux.Handle(*path, handler(reg))
	if *path != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "corosync exporter",
			Description: "Prometheus exporter for corosync, over its IPC (no exec)",
			Links:       []web.LandingLinks{{Address: *path, Text: "Metrics"}},
		})
		if err != nil {
			logger.Error("landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{*listen},
		WebSystemdSocket:   new(bool),
		WebConfigFile:      configFile,
	}
	if err := web.ListenAndServe(srv, flags, logger); err != nil {
		fmt.Fprintln(os.Stderr, "corosync-exporter:", err)
		return 1
	}
	return 0
}

// handler serves the registry so that one failing metric never turns the
// whole scrape into an HTTP 500 (ha_cluster_exporter #245).
func handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}
