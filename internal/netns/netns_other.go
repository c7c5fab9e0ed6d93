//go:build !linux

package netns

import (
	"errors"
	"runtime"
)

func do(path string, fn func() error) error {
	return errors.New("network namespaces are not supported on " + runtime.GOOS + ": cannot enter " + path)
}
