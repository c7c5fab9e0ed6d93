//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

var shell = [2]string{"/bin/sh", "-c"}

// killGroupOnCancel runs the hook in a process group of its own, killed as
// a whole when the hook times out.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
