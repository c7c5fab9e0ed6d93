package stress

import (
	"testing"

	"go.uber.org/goleak"
)

// Every client the tests start is closed: no goroutine may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
