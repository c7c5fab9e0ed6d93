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
// It is a drop-in for ha_cluster_exporter's users: it takes the same flags
// (--web.listen-address, --web.telemetry-path, --web.config.file,
// --log.level, --log.format; the paths of its collectors' tools are accepted
// and ignored), reads the same configuration file (ha_cluster_exporter.yaml
// in ./, $HOME/.config/, /etc/ or /usr/etc/, a flag winning over the file)
// and uses /etc/ha_cluster_exporter.web.yaml as its web configuration (TLS,
// basic auth) when that file exists.
//
// Usage:
//
//	corosync-exporter [--web.listen-address=:9664] [--web.config.file=FILE]
//	                  [--web.telemetry-path=/metrics] [--corosync.timeout=1s]
//	                  [--log.level=info] [--log.format=logfmt|json]
//	corosync-exporter --version
//	corosync-exporter --help
//
// It needs no root: run it as a user that corosync's uidgid configuration
// admits (for example a file /etc/corosync/uidgid.d/exporter with
// "uidgid { uid: prometheus }").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/corosync-go/corosync/internal/buildinfo"
	"github.com/corosync-go/corosync/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// newLogger makes the logger --log.level and --log.format ask for: logfmt
// (slog's text handler) or JSON lines, on w.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// run is the exporter: it serves until ctx ends (SIGINT, SIGTERM) and
// returns the exit code: 0 after a clean stop, --help or --version, 1 on a
// bad flag or file or when it cannot serve.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parseOptions(args)
	switch {
	case errors.Is(err, flag.ErrHelp) || o.help:
		usage(stdout, fs)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "corosync-exporter: %v, try --help\n", err)
		return 1
	case o.version:
		fmt.Fprint(stdout, buildinfo.Read().String("corosync-exporter"))
		return 0
	}
	logger := newLogger(stderr, o.logLevel, o.logFormat)
	bi := buildinfo.Read()
	logger.Info("starting corosync-exporter", "version", bi.Version, "revision", bi.Revision, "go", bi.GoVersion)
	if o.configFile != "" {
		logger.Info("using config file", "file", o.configFile)
	} else {
		logger.Info("no config file found; using flags and defaults", "name", configName+".yaml", "searched", strings.Join(configPaths, " "))
	}
	if len(o.ignored) > 0 {
		logger.Info("ignoring ha_cluster_exporter settings that do not apply: this exporter runs no tools, has no pacemaker, sbd or drbd collector, never timestamps, and listens on web.listen-address",
			"settings", strings.Join(o.ignored, ","))
	}
	if len(o.unknown) > 0 {
		logger.Warn("unknown keys in the config file ignored", "file", o.configFile, "keys", strings.Join(o.unknown, ","))
	}
	webConfig, err := chooseWebConfig(o, logger)
	if err != nil {
		logger.Error("web config", "err", err)
		return 1
	}

	coll := NewCollector(transport.NewDialer(transport.Config{NetNS: o.netns}), o.timeout, logger)
	defer coll.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	mux.Handle(o.path, handler(reg))
	if o.path != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "corosync exporter",
			Description: "Prometheus exporter for corosync, over its IPC (no exec)",
			Links:       []web.LandingLinks{{Address: o.path, Text: "Metrics"}},
		})
		if err != nil {
			logger.Error("landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}
	// The server's own errors (TLS handshakes, bad requests) go to the same
	// log, in its format.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{o.listen},
		WebSystemdSocket:   new(bool),
		WebConfigFile:      &webConfig,
	}
	logger.Info("serving metrics", "address", o.listen, "path", o.path)
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, flags, logger) }()
	select {
	case err := <-served:
		logger.Error("cannot serve", "err", err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-served
	return 0
}

// chooseWebConfig returns the exporter-toolkit web configuration file in
// force ("" for none) and logs it. As in ha_cluster_exporter (its
// main.go:89-92 and 345-356), the default /etc/ha_cluster_exporter.web.yaml
// is used when it exists and is otherwise skipped with a notice; an empty
// value means none. Unlike it, a file named explicitly (flag or config file)
// that does not exist is an error, not a silent fall-back to plain HTTP.
func chooseWebConfig(o options, logger *slog.Logger) (string, error) {
	if o.webConfig == "" {
		logger.Info("no web config file: plain HTTP, no authentication")
		return "", nil
	}
	if _, err := os.Stat(o.webConfig); err != nil {
		if o.webConfigExplicit && o.webConfig != defaultWebConfig {
			return "", fmt.Errorf("web.config.file %s: %w", o.webConfig, err)
		}
		logger.Info("no web config file: plain HTTP, no authentication", "missing", o.webConfig)
		return "", nil
	}
	logger.Info("using web config file", "file", o.webConfig)
	return o.webConfig, nil
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
