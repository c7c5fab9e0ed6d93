package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The exporter starts no process on a scrape, or ever: neither it nor any
// package it links imports os/exec (ha_cluster_exporter runs two tools per
// scrape).
func TestNoExecLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "os/exec" || p == "syscall.ForkExec" {
			t.Fatalf("the exporter links %s", p)
		}
	}
}
