package gputest

import "testing"

// TestEnginesOnCPU runs Engines' checks with the CPU as the device, so
// that the test itself is exercised where there is no GPU.
func TestEnginesOnCPU(t *testing.T) { engines(t, hostCPU()) }

// TestChainOnCPU runs Chain with the CPU as the device: the ids pass
// through the host, and the outputs must still be AR's.
func TestChainOnCPU(t *testing.T) { Chain(t, hostCPU()) }
