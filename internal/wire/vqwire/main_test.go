package vqwire

import (
	"testing"

	"go.uber.org/goleak"
)

// The real-daemon tests dial corosync, which starts goroutines: none may
// outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
