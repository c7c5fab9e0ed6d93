package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// theirSampleConfig is the content of ha_cluster_exporter's sample
// configuration (its ha_cluster_exporter.yaml at a50025a), typo ("addres")
// included: nested web/log keys and its collectors' tool paths.
const theirSampleConfig = `# sample config
web:
  listen-address: "0.0.0.0:9664"
  telemetry-path: "/metrics"
  config:
    file: "/etc/ha_cluster_exporter.web.yaml"
log:
  level: "info"
  format: "logfmt"
crm-mon-path: "/usr/sbin/crm_mon"
cibadmin-path: "/usr/sbin/cibadmin"
corosync-cfgtoolpath-path: "/usr/sbin/corosync-cfgtool"
corosync-quorumtool-path: "/usr/sbin/corosync-quorumtool"
sbd-path: "/usr/sbin/sbd"
sbd-config-path: "/etc/sysconfig/sbd"
drbdsetup-path: "/sbin/drbdsetup"
port: "9664"
addres: "0.0.0.0"
log-level: "info"
`

// withConfigPaths points the search at four fresh directories standing for
// ./, $HOME/.config/, /etc/ and /usr/etc/ (the first two by changing the
// working directory and $HOME, as a user would) and returns them.
func withConfigPaths(t *testing.T) [4]string {
	var d [4]string
	for i := range d {
		d[i] = t.TempDir()
	}
	home := t.TempDir()
	must(t, os.Symlink(d[1], filepath.Join(home, ".config")))
	t.Chdir(d[0])
	t.Setenv("HOME", home)
	old := configPaths
	configPaths = []string{"./", "$HOME/.config/", d[2] + "/", d[3] + "/"}
	t.Cleanup(func() { configPaths = old })
	return d
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(content), 0o644))
}

// The file is looked up where ha_cluster_exporter's viper looks (its
// main.go:70-76): ./ first, then $HOME/.config/, /etc/, /usr/etc/; within a
// directory by viper's extension order (json before yaml).
func TestConfigLookupOrder(t *testing.T) {
	d := withConfigPaths(t)
	for i, dir := range d {
		writeFile(t, filepath.Join(dir, "ha_cluster_exporter.yaml"), "web:\n  listen-address: \":"+string(rune('1'+i))+"\"\n")
	}
	for i := range d {
		o, _, err := parseOptions(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := ":" + string(rune('1'+i)); o.listen != want {
			t.Fatalf("with files in %d.. of the search path: listen %q from %s, want %q", i, o.listen, o.configFile, want)
		}
		must(t, os.Remove(filepath.Join(d[i], "ha_cluster_exporter.yaml")))
	}
	o, _, err := parseOptions(nil)
	if err != nil || o.configFile != "" || o.listen != ":9664" {
		t.Fatalf("no file: %+v %v", o, err)
	}
	// viper's order within a directory: .json before .yaml.
	writeFile(t, filepath.Join(d[2], "ha_cluster_exporter.yaml"), "log:\n  level: warn\n")
	writeFile(t, filepath.Join(d[2], "ha_cluster_exporter.json"), `{"log": {"level": "error"}}`)
	if o, _, err := parseOptions(nil); err != nil || o.logLevel != "error" || !strings.HasSuffix(o.configFile, ".json") {
		t.Fatalf("json beside yaml: %+v %v", o, err)
	}
	// A format viper reads but this exporter does not is refused by name.
	writeFile(t, filepath.Join(d[1], "ha_cluster_exporter.toml"), "x = 1\n")
	if _, _, err := parseOptions(nil); err == nil || !strings.Contains(err.Error(), `format "toml" is not supported`) {
		t.Fatalf("toml: %v", err)
	}
}

// Their sample file sets what it names; flags win over it (their main.go:
// each flag's default is the file's value, setConfigDefault at 188-198).
func TestConfigKeysAndFlagsWin(t *testing.T) {
	d := withConfigPaths(t)
	writeFile(t, filepath.Join(d[2], "ha_cluster_exporter.yaml"), theirSampleConfig+"corosync:\n  timeout: 3s\n")
	o, _, err := parseOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "0.0.0.0:9664" || o.path != "/metrics" || o.webConfig != "/etc/ha_cluster_exporter.web.yaml" || !o.webConfigExplicit ||
		o.logLevel != "info" || o.logFormat != "logfmt" || o.timeout != 3*time.Second {
		t.Fatalf("from their sample: %+v", o)
	}
	wantIgnored := []string{"crm-mon-path", "cibadmin-path", "corosync-cfgtoolpath-path", "corosync-quorumtool-path", "sbd-path", "sbd-config-path", "drbdsetup-path", "port"}
	if !slices.Equal(o.ignored, wantIgnored) {
		t.Fatalf("ignored %v, want %v", o.ignored, wantIgnored)
	}
	if !slices.Equal(o.unknown, []string{"addres"}) {
		t.Fatalf("unknown keys %v", o.unknown)
	}
	o, _, err = parseOptions([]string{"--web.listen-address=127.0.0.1:9999", "--web.telemetry-path", "/m", "--log.level=debug", "--log.format=json", "--web.config.file="})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:9999" || o.path != "/m" || o.logLevel != "debug" || o.logFormat != "json" || o.webConfig != "" {
		t.Fatalf("flags over the file: %+v", o)
	}
	// Flat dotted keys read the same as nested ones (viper finds both).
	writeFile(t, filepath.Join(d[0], "ha_cluster_exporter.yaml"), "web.telemetry-path: /flat\nLOG:\n  Level: warn\n")
	if o, _, err = parseOptions(nil); err != nil || o.path != "/flat" || o.logLevel != "warn" {
		t.Fatalf("flat keys: %+v %v", o, err)
	}
}

// Their command lines run: every flag of their main.go:79-154 is accepted;
// the collectors' tool paths, --enable-timestamps, --address and --port
// are ignored (named in o.ignored, logged in one line); --log-level (their
// deprecated flag, main.go:171-174) still sets the level.
func TestTheirFlagsAccepted(t *testing.T) {
	withConfigPaths(t)
	args := []string{
		"--crm-mon-path=/usr/sbin/crm_mon", "--cibadmin-path", "/usr/sbin/cibadmin",
		"--corosync-cfgtoolpath-path=/x", "--corosync-quorumtool-path=/y", "--sbd-path=/z",
		"--sbd-config-path=/etc/sysconfig/sbd", "--drbdsetup-path=/sbin/drbdsetup", "--drbdsplitbrain-path=/var/run/drbd/splitbrain",
		"--enable-timestamps", "--address=0.0.0.0", "--port=9100", "--log-level=warn",
	}
	o, _, err := parseOptions(args)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.ignored) != 11 || o.logLevel != "warn" || o.listen != ":9664" {
		t.Fatalf("%+v", o)
	}
	if o, _, err = parseOptions([]string{"--no-enable-timestamps", "--log.debug"}); err != nil || o.logLevel != "debug" || !slices.Equal(o.ignored, []string{"enable-timestamps"}) {
		t.Fatalf("--no-enable-timestamps --log.debug: %+v %v", o, err)
	}
}

// Bad input is refused with an error naming the setting (their promlog
// refuses unknown levels and formats too).
func TestBadSettings(t *testing.T) {
	withConfigPaths(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log.level=verbose"}, `log.level "verbose"`},
		{[]string{"--log.format=xml"}, `log.format "xml"`},
		{[]string{"--corosync.timeout=soon"}, `corosync.timeout "soon"`},
		{[]string{"--web.telemetry-path=metrics"}, `web.telemetry-path "metrics"`},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		if _, _, err := parseOptions(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.args, err, c.want)
		}
	}
}

// The web configuration in force: the default file only if it exists
// (their main.go:345-356), none when empty, and an explicitly named file
// that is missing is an error (theirs falls back to plain HTTP).
func TestWebConfigChoice(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	existing := filepath.Join(t.TempDir(), "web.yaml")
	writeFile(t, existing, "")
	for _, c := range []struct {
		o       options
		want    string
		wantErr bool
	}{
		{options{webConfig: ""}, "", false},
		{options{webConfig: existing, webConfigExplicit: true}, existing, false},
		{options{webConfig: "/nonexistent/x.yaml", webConfigExplicit: true}, "", true},
		{options{webConfig: "/nonexistent/x.yaml"}, "", false},
	} {
		got, err := chooseWebConfig(c.o, log)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%+v: %q %v", c.o, got, err)
		}
	}
	if _, err := os.Stat(defaultWebConfig); err != nil {
		got, err := chooseWebConfig(options{webConfig: defaultWebConfig, webConfigExplicit: true}, log)
		if got != "" || err != nil {
			t.Errorf("their sample's explicit default, missing: %q %v", got, err)
		}
	}
}

// --log.format json gives one JSON object per line, logfmt key=value
// lines; --log.level filters.
func TestLogFormats(t *testing.T) {
	var b bytes.Buffer
	l := newLogger(&b, "info", "json")
	l.Debug("hidden")
	l.Info("shown", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || m["msg"] != "shown" || m["level"] != "INFO" || m["k"] != "v" {
		t.Fatalf("json: %q %v", b.String(), err)
	}
	b.Reset()
	l = newLogger(&b, "warn", "logfmt")
	l.Info("hidden")
	l.Warn("shown", "k", "a b")
	if got := b.String(); !strings.Contains(got, `level=WARN msg=shown k="a b"`) || strings.Contains(got, "hidden") {
		t.Fatalf("logfmt: %q", got)
	}
}

// --version and --help print on stdout and exit 0 without serving; a bad
// flag exits 1 naming it (kingpin's Fatalf exits 1 too).
func TestVersionHelpExit(t *testing.T) {
	withConfigPaths(t)
	for _, c := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{[]string{"--version"}, 0, "corosync-exporter, version ", ""},
		{[]string{"-h"}, 0, "usage: corosync-exporter", ""},
		{[]string{"--help"}, 0, "Accepted and ignored, for ha_cluster_exporter's command lines: --crm-mon-path", ""},
		{[]string{"--log.level=loud"}, 1, "", `corosync-exporter: log.level "loud": want debug, info, warn or error, try --help`},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errb.String(), c.err) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errb.String())
		}
	}
}
