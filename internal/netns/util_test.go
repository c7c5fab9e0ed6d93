//go:build linux

package netns

import (
	"runtime"
	"strconv"
)

func unixLock()         { runtime.LockOSThread() }
func unixUnlock()       { runtime.UnlockOSThread() }
func itoa(i int) string { return strconv.Itoa(i) }
