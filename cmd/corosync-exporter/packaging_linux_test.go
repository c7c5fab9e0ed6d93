package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The shipped systemd unit (packaging/corosync-exporter.service) passes
// systemd-analyze verify with no complaint at all (an unknown or misspelt
// directive is only a warning there, so any output fails the test), with
// only its ExecStart binary path changed to a freshly built exporter; it
// runs as its own user, hardened, with an exposure level of at most 2.0
// from systemd-analyze security (measured: 1.4). Its ExecStart arguments
// are ha_cluster_exporter's ($ARGS from the environment file).
func TestSystemdUnit(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("../../packaging/corosync-exporter.service")
	must(t, err)
	bin := buildExporter(t)
	const exec0 = "ExecStart=/usr/bin/corosync-exporter $ARGS\n"
	if !strings.Contains(string(unit), exec0) {
		t.Fatalf("the unit's ExecStart is not %q", exec0)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "corosync-exporter.service")
	writeFile(t, path, strings.Replace(string(unit), exec0, "ExecStart="+bin+" $ARGS\n", 1))

	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, d := range []string{"User=corosync-exporter", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service"} {
		if !strings.Contains(string(unit), d) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(d))
		}
	}
	out, err = exec.Command(analyze, "security", "--offline=true", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for corosync-exporter.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Fatalf("exposure level %v, want at most 2.0:\n%s", level, out)
	}
	t.Logf("exposure level %s", m[1])

	// The uidgid snippet admits the unit's user.
	uidgid, err := os.ReadFile("../../packaging/uidgid.d/corosync-exporter")
	must(t, err)
	if !regexp.MustCompile(`(?m)^uidgid \{\n\s+uid: corosync-exporter\n\}`).Match(uidgid) {
		t.Fatalf("uidgid.d/corosync-exporter does not admit the unit's user:\n%s", uidgid)
	}
	sysusers, err := os.ReadFile("../../packaging/corosync-exporter.sysusers")
	must(t, err)
	if !regexp.MustCompile(`(?m)^u corosync-exporter - `).Match(sysusers) {
		t.Fatalf("corosync-exporter.sysusers does not create the unit's user:\n%s", sysusers)
	}
}
