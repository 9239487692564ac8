package caller

import (
	"testing"

	"ferry/internal/testnet"
)

// TestMain removes the ferry binary the tests built.
func TestMain(m *testing.M) { testnet.Main(m) }
