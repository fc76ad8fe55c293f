package main

import (
	"os"
	"testing"

	"github.com/wasitls/wasitls/internal/testpeer"
)

// TestMain repeats the interop peers and tools that were missing after the
// tests.
func TestMain(m *testing.M) { os.Exit(testpeer.Main(m)) }
