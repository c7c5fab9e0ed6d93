package streamtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The example and the suite start clients and their goroutines: none may
// outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
