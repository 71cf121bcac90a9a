package edgecachetest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a handler still
// sleeping, a server not closed, a connection not released.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
