package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/ops"
)

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]struct {
		kind    string
		ordinal int
	}{
		"": {"auto", 0}, "auto": {"auto", 0}, "CPU": {"cpu", 0}, "cuda": {"cuda", 0}, "cuda:1": {"cuda", 1}, " hip:2 ": {"hip", 2},
	} {
		kind, n, err := parseDevice(in)
		require.NoError(t, err, in)
		require.Equal(t, want.kind, kind, in)
		require.Equal(t, want.ordinal, n, in)
	}
	for _, in := range []string{"gpu", "cuda:", "cuda:-1", "cpu:1", "cuda:x", "metal"} {
		_, _, err := parseDevice(in)
		require.Error(t, err, in)
	}
}

func TestBackend(t *testing.T) {
	b, err := Backend("cpu", 1)
	require.NoError(t, err)
	require.IsType(t, &ops.CPU{}, b)
	require.NoError(t, CloseBackend(b))

	// auto always gives a backend: a GPU when one works, else the CPU.
	b, err = Backend("auto", 1)
	require.NoError(t, err)
	t.Logf("auto: %s", b.Name())
	require.NoError(t, CloseBackend(b))

	// An explicit GPU either works or says why not.
	for _, dev := range []string{"cuda", "hip"} {
		b, err := Backend(dev, 1)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), dev+": "), err.Error())
			t.Logf("%s: %v", dev, err)
			continue
		}
		require.True(t, strings.HasPrefix(b.Name(), dev+":0 "), b.Name())
		require.NoError(t, CloseBackend(b))
	}

	_, err = Backend("tpu", 1)
	require.ErrorContains(t, err, `--device "tpu"`)
}

// TestStartCPUProfile checks the --cpuprofile helper: nothing for an empty
// path, a profile file once stopped, and a clear error for a bad path.
func TestStartCPUProfile(t *testing.T) {
	stop, err := StartCPUProfile("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	path := filepath.Join(t.TempDir(), "cpu.prof")
	if stop, err = StartCPUProfile(path); err != nil {
		t.Fatal(err)
	}
	stop()
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("profile %s: %v (%v)", path, st, err)
	}
	if _, err := StartCPUProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "p")); err == nil || !strings.Contains(err.Error(), "--cpuprofile") {
		t.Fatalf("bad path: %v", err)
	}
}
