// Package examples_test runs the README's recipe programs (the
// subdirectories, each a main package a user can copy) against real
// corosync clusters.
package examples_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
