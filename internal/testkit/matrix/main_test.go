package matrix

import (
	"testing"

	"go.uber.org/goleak"
)

// The safety test starts clients and daemons: no goroutine may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
