package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"
)

// ha_cluster_exporter's settings, which this exporter takes from the same
// command-line flags and the same configuration file (its main.go at
// a50025a, lines 69-154: viper finds ha_cluster_exporter.<ext> in ./,
// $HOME/.config/, /etc/ and /usr/etc/, and each flag's default is the
// file's value for the key of the flag's name).
const (
	configName       = "ha_cluster_exporter"
	defaultWebConfig = "/etc/ha_cluster_exporter.web.yaml" // its main.go:89-92
)

// configPaths are the directories searched for the configuration file, in
// order (its main.go:72-75). A variable for tests.
var configPaths = []string{"./", "$HOME/.config/", "/etc/", "/usr/etc/"}

// configExts are the extensions viper tries in each directory, in its order
// (viper v1.19.0, viper.go:422 SupportedExts; file.go:27-44 searchInPath):
// the first file found is the configuration. Only YAML and JSON are read
// here; any other format is refused with an error that says so.
var configExts = []string{"json", "toml", "yaml", "yml", "properties", "props", "prop", "hcl", "tfvars", "dotenv", "env", "ini"}

// ignoredFlags are ha_cluster_exporter's settings that do not apply here,
// accepted (on the command line and in the file) so that its command lines
// and files keep working, and reported in one notice line when used: the
// paths of the tools its collectors run (this exporter runs none and has no
// pacemaker, sbd or drbd collector), --enable-timestamps (metrics are never
// timestamped) and the deprecated --address and --port, which its own
// main.go:297-355 puts only into a log line: it listens on
// --web.listen-address whatever they say, and so does this one.
var ignoredFlags = []struct{ name, def string }{
	{"crm-mon-path", "/usr/sbin/crm_mon"},
	{"cibadmin-path", "/usr/sbin/cibadmin"},
	{"corosync-cfgtoolpath-path", "/usr/sbin/corosync-cfgtool"},
	{"corosync-quorumtool-path", "/usr/sbin/corosync-quorumtool"},
	{"sbd-path", "/usr/sbin/sbd"},
	{"sbd-config-path", "/etc/sysconfig/sbd"},
	{"drbdsetup-path", "/sbin/drbdsetup"},
	{"drbdsplitbrain-path", "/var/run/drbd/splitbrain"},
	{"address", "0.0.0.0"},
	{"port", "9664"},
	{"enable-timestamps", "false"},
}

// options are the exporter's settings after the file and the flags.
type options struct {
	listen, path      string
	webConfig         string
	webConfigExplicit bool // set by a flag or the file, not the default
	logLevel          string
	logFormat         string
	timeout           time.Duration
	netns             string
	version, help     bool

	configFile string   // the file read, "" when none was found
	ignored    []string // ignoredFlags that were set, by flag or file
	unknown    []string // keys of the file this exporter does not know
}

// expandPath resolves a search directory as viper's absPathify does
// (viper util.go:108-129): $HOME first, then other variables, then made
// absolute.
func expandPath(p string) string {
	if p == "$HOME" || strings.HasPrefix(p, "$HOME/") {
		p = os.Getenv("HOME") + p[len("$HOME"):]
	}
	p = os.ExpandEnv(p)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// findConfig returns the first ha_cluster_exporter.<ext> in paths, or "".
func findConfig(paths []string) string {
	for _, dir := range paths {
		dir = expandPath(dir)
		for _, ext := range configExts {
			f := filepath.Join(dir, configName+"."+ext)
			if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
				return f
			}
		}
	}
	return ""
}

// readConfig reads a YAML or JSON configuration file into flat keys:
// nested maps are joined with dots (web: {listen-address: x} is
// web.listen-address, as viper reads it) and keys are lower case (viper's
// keys are case-insensitive). Scalars become their string form.
func readConfig(file string) (map[string]string, error) {
	switch ext := strings.TrimPrefix(filepath.Ext(file), "."); ext {
	case "yaml", "yml", "json":
	default:
		return nil, fmt.Errorf("config file %s: format %q is not supported: write it as YAML (%s.yaml)", file, ext, configName)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	out := map[string]string{}
	var flatten func(prefix string, m map[any]any)
	put := func(key string, v any) {
		switch v := v.(type) {
		case map[any]any:
			flatten(key+".", v)
		case nil:
			out[key] = ""
		case []any:
			// No setting here is a list; keep the key so it is reported.
			out[key] = fmt.Sprint(v...)
		default:
			out[key] = fmt.Sprint(v)
		}
	}
	flatten = func(prefix string, m map[any]any) {
		for k, v := range m {
			put(prefix+strings.ToLower(fmt.Sprint(k)), v)
		}
	}
	for k, v := range doc {
		put(strings.ToLower(k), v)
	}
	return out, nil
}

// parseOptions reads the configuration file (if one is found in
// configPaths) and then args; a flag overrides the file, which overrides
// the default, as in ha_cluster_exporter. A broken file is an error, but
// --help and --version still work. The flag set is returned for usage.
func parseOptions(args []string) (options, *flag.FlagSet, error) {
	var o options
	o.configFile = findConfig(configPaths)
	var file map[string]string
	var fileErr error
	if o.configFile != "" {
		file, fileErr = readConfig(o.configFile)
	}
	def := func(key, fallback string) string {
		if v, ok := file[key]; ok {
			return v
		}
		return fallback
	}
	fs := flag.NewFlagSet("corosync-exporter", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.listen, "web.listen-address", def("web.listen-address", ":9664"), "address to listen on for the metrics (ha_cluster_exporter's port)")
	fs.StringVar(&o.path, "web.telemetry-path", def("web.telemetry-path", "/metrics"), "path under which to expose the metrics")
	fs.StringVar(&o.webConfig, "web.config.file", def("web.config.file", defaultWebConfig), "exporter-toolkit web configuration file (TLS, basic auth); the default is used only if it exists; empty: none")
	fs.StringVar(&o.logLevel, "log.level", def("log.level", "info"), "only log messages with this severity or above: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log.format", def("log.format", "logfmt"), "log format: logfmt or json")
	timeout := fs.String("corosync.timeout", def("corosync.timeout", "1s"), "deadline of the corosync reads of one scrape")
	fs.StringVar(&o.netns, "corosync.netns", def("corosync.netns", ""), "network namespace (path) whose corosync to read (for tests); empty: this one")
	debug := fs.Bool("log.debug", false, "deprecated: the same as --log.level=debug")
	deprecatedLevel := fs.String("log-level", def("log-level", "info"), "deprecated (ha_cluster_exporter's): the same as --log.level")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.help, "help", false, "print this help and exit (also -h)")
	fs.BoolVar(&o.help, "h", false, "print this help and exit")
	for _, f := range ignoredFlags {
		if f.def == "false" { // a kingpin bool: --x and --no-x
			fs.Bool(f.name, false, "ignored (ha_cluster_exporter's)")
			fs.Bool("no-"+f.name, false, "ignored (ha_cluster_exporter's)")
			continue
		}
		fs.String(f.name, def(f.name, f.def), "ignored (ha_cluster_exporter's)")
	}
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		return o, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.help || o.version {
		return o, fs, nil
	}
	if fileErr != nil {
		return o, fs, fileErr
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
	for _, f := range ignoredFlags {
		if _, inFile := file[f.name]; set[f.name] || set["no-"+f.name] || inFile {
			o.ignored = append(o.ignored, f.name)
		}
	}
	for k := range file {
		if !known[k] {
			o.unknown = append(o.unknown, k)
		}
	}
	slices.Sort(o.unknown)
	_, inFile := file["web.config.file"]
	o.webConfigExplicit = set["web.config.file"] || inFile
	// Its main.go:171-174: the deprecated --log-level wins when it is not
	// "info".
	if *deprecatedLevel != "info" {
		o.logLevel = *deprecatedLevel
	}
	if *debug {
		o.logLevel = "debug"
	}
	var err error
	if o.timeout, err = time.ParseDuration(*timeout); err != nil || o.timeout <= 0 {
		return o, fs, fmt.Errorf("corosync.timeout %q: want a positive duration such as 1s", *timeout)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return o, fs, err
	}
	if o.logFormat != "logfmt" && o.logFormat != "json" {
		return o, fs, fmt.Errorf("log.format %q: want logfmt or json", o.logFormat)
	}
	if !strings.HasPrefix(o.path, "/") {
		return o, fs, fmt.Errorf("web.telemetry-path %q: want a path starting with /", o.path)
	}
	return o, fs, nil
}

// parseLevel parses a log level as ha_cluster_exporter's promlog does:
// debug, info, warn or error.
func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level %q: want debug, info, warn or error", s)
}

// usage prints fs's flags, with ha_cluster_exporter's ignored ones named in
// one line at the end.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: corosync-exporter [flags]\n\nFlags (each also read from %s.yaml in %s; a flag wins):\n",
		configName, strings.Join(configPaths, ", "))
	skip := map[string]bool{"h": true, "log.debug": true, "log-level": true}
	for _, f := range ignoredFlags {
		skip[f.name] = true
		skip["no-"+f.name] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if skip[f.Name] {
			return
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s\n      %s%s\n", f.Name, f.Usage, def)
	})
	var names []string
	for _, f := range ignoredFlags {
		names = append(names, "--"+f.name)
	}
	fmt.Fprintf(w, "\nAccepted and ignored, for ha_cluster_exporter's command lines: %s.\nDeprecated: --log-level and --log.debug (use --log.level).\n", strings.Join(names, " "))
}
