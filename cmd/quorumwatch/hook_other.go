//go:build !unix

package main

import "os/exec"

var shell = [2]string{"cmd", "/c"}

// killGroupOnCancel: without process groups, the hook process itself is
// killed when it times out (exec.CommandContext's default).
func killGroupOnCancel(cmd *exec.Cmd) {}
