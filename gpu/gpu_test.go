package gpu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu/kernels"
	"github.com/gopard/gopard/tensor"
)

func TestKernelSources(t *testing.T) {
	for _, f := range kernels.Files() {
		require.NotEmpty(t, kernels.Read(f), f)
	}
	src := kernels.Source()
	require.NotContains(t, src, `#include "`, "local includes are inlined")
	// Every kernel the Device launches exists.
	names := kernels.Names()
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		for _, mt := range linearBuckets {
			require.Contains(t, names, fmt.Sprintf("linear_%s_m%d", suffix(dt), mt))
		}
		require.Contains(t, names, "embedding_"+suffix(dt))
	}
	// Each linear kernel computes the columns per warp the host sizes its grid for.
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		for _, mt := range []int{16} {
			name := fmt.Sprintf("linear_tiled_%s_m%d", suffix(dt), mt)
			require.Equal(t, name, linearTiledNames[dt][mt])
			m := regexp.MustCompile(name + `\(LINEAR_PARAMS\(\w+\)\) \{ linear_tiled<\w+, (\d+), (\d+)>`).FindStringSubmatch(src)
			require.NotNil(t, m, name)
			require.Equal(t, strconv.Itoa(mt), m[1], name)
			require.Equal(t, strconv.Itoa(linearTiledCols), m[2], name)
		}
	}
	// The fused families: NC (swiglu) and NR (qkv) as the host assumes,
	// and the _norm ones (up to normMaxRows) normalizing x.
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		for _, mt := range linearBuckets {
			type family struct {
				name string
				cols int
				norm bool
			}
			fs := []family{{swigluNames[dt][mt], swigluCols(mt), false}, {qkvNames[dt][mt], linearCols(mt), false}}
			if slices.Contains(normBuckets, mt) {
				fs = append(fs, family{swigluNormNames[dt][mt], swigluCols(mt), true}, family{qkvNormNames[dt][mt], linearCols(mt), true})
			} else {
				require.Empty(t, swigluNormNames[dt][mt]+qkvNormNames[dt][mt], "no _norm kernel for %d rows", mt)
			}
			for _, f := range fs {
				m := regexp.MustCompile(f.name + `\(\w+_PARAMS\(\w+\)(, NORM_PARAMS)?\) \{ linear_\w+<\w+, (\d+), (\d+), \d+, (true|false)>`).FindStringSubmatch(src)
				require.NotNil(t, m, f.name)
				require.Equal(t, strconv.Itoa(mt), m[2], f.name)
				require.Equal(t, strconv.Itoa(f.cols), m[3], f.name)
				require.Equal(t, strconv.FormatBool(f.norm), m[4], f.name)
				require.Equal(t, f.norm, m[1] != "", f.name)
			}
		}
	}
	require.Equal(t, normMaxRows, slices.Max(normBuckets))
	// The rotating ones: one entry per _norm bucket, a warp taking a pair
	// of columns.
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.F16} {
		for _, mt := range normBuckets {
			name := qkvNormRopeNames[dt][mt]
			m := regexp.MustCompile(name + `\(QKV_PARAMS\(\w+\), NORM_PARAMS, ROPE_PARAMS\) \{\s+linear_qkv_rope<\w+, (\d+), \d+>`).FindStringSubmatch(src)
			require.NotNil(t, m, name)
			require.Equal(t, strconv.Itoa(mt), m[1], name)
		}
	}
	entries := regexp.MustCompile(`linear_\w+_m(\d+)\(LINEAR_PARAMS\(\w+\)\) \{ linear<\w+, (\d+), (\d+), \d+>`).FindAllStringSubmatch(src, -1)
	require.Len(t, entries, 3*len(linearBuckets))
	for _, e := range entries {
		mt, _ := strconv.Atoi(e[1])
		tmt, _ := strconv.Atoi(e[2])
		nr, _ := strconv.Atoi(e[3])
		require.Equal(t, mt, tmt, e[0])
		require.Equal(t, linearCols(mt), nr, e[0])
	}
	for rows := 1; rows <= linearMaxRows; rows++ {
		b := linearBucket(rows)
		i := slices.Index(linearBuckets[:], b)
		require.True(t, i >= 0 && b >= rows && (i == 0 || linearBuckets[i-1] < rows), "rows %d → bucket %d: the smallest that holds them", rows, b)
	}
	for _, n := range []string{"rmsnorm", "rope", "attention_chunk", "attention_combine", "attention_bulk", "attention_bulk_f16", "silu_mul", "add", "argmax_part", "argmax_final", "embedding_inline_bf16", "warp_size"} {
		require.Contains(t, names, n)
	}
	// The launch geometry the host assumes is the kernels'.
	for name, want := range map[string]int{"LINEAR_MAX_ROWS": linearMaxRows, "LINEAR_TILE": linearTile, "ATTN_CHUNK": attnChunk, "ATTN_MAX_HEAD_DIM": attnMaxHeadDim, "EMBEDDING_INLINE_IDS": embeddingInlineIDs, "GP_MAX_BLOCK": 1024,
		"BULK_BM": bulkTileRows, "BULK_BN": bulkTileCols, "BULK_THREADS": bulkThreads,
		"ATTB_Q": attnBulkQ, "ATTB_SUB": attnBulkSub, "ATTB_MAX_HEAD_DIM": attnBulkMaxHeadDim} {
		m := regexp.MustCompile(`#define ` + name + ` (\d+)`).FindStringSubmatch(src)
		require.NotNil(t, m, name)
		got, _ := strconv.Atoi(m[1])
		require.Equal(t, want, got, name)
	}
}

func TestCache(t *testing.T) {
	t.Setenv("GOPARD_GPU_CACHE", t.TempDir())
	dir := CacheDir("cuda")
	require.Equal(t, filepath.Join(os.Getenv("GOPARD_GPU_CACHE"), "cuda"), dir)
	key := CacheKey("src", "nvrtc 12.4", []string{"--gpu-architecture=sm_90"})
	require.Len(t, key, 16)
	require.NotEqual(t, key, CacheKey("src", "nvrtc 12.5", []string{"--gpu-architecture=sm_90"}))
	require.NotEqual(t, key, CacheKey("src", "nvrtc 12.4", []string{"--gpu-architecture=sm_80"}))
	require.NotEqual(t, CacheKey("ab", "c", nil), CacheKey("a", "bc", nil))
	require.Equal(t, filepath.Join(dir, key+"-sm_90.cubin"), CachePath(dir, key, "sm_90", "cubin"))
	require.Equal(t, filepath.Join(dir, "k-gfx90a_sramecc+_xnack-.hsaco"), CachePath(dir, "k", "gfx90a:sramecc+:xnack-", "hsaco"))

	path := CachePath(dir, key, "sm_90", "cubin")
	builds := 0
	build := func() ([]byte, error) { builds++; return []byte("image"), nil }
	img, hit, err := Cached(path, build)
	require.NoError(t, err)
	require.False(t, hit)
	require.Equal(t, "image", string(img))
	img, hit, err = Cached(path, build)
	require.NoError(t, err)
	require.True(t, hit)
	require.Equal(t, "image", string(img))
	require.Equal(t, 1, builds)
	_, _, err = Cached(CachePath(dir, "other", "sm_90", "cubin"), func() ([]byte, error) { return nil, fmt.Errorf("boom") })
	require.EqualError(t, err, "boom")
	_, _, err = Cached("", build) // no cache
	require.NoError(t, err)
	require.Equal(t, 2, builds)

	t.Setenv("GOPARD_GPU_CACHE", "off")
	require.Equal(t, "", CacheDir("cuda"))
}

func TestNoDevice(t *testing.T) {
	err := NoDevice("cuda: libcuda.so.1 not found")
	require.True(t, errors.Is(err, ErrNoDevice))
	require.True(t, errors.Is(fmt.Errorf("wrapped: %w", err), ErrNoDevice))
	require.Equal(t, "cuda: libcuda.so.1 not found", err.Error())
	require.False(t, errors.Is(errors.New("other"), ErrNoDevice))
}

func TestGeometry(t *testing.T) {
	require.Equal(t, uint32(64), threadsFor(1))
	require.Equal(t, uint32(128), threadsFor(100))
	require.Equal(t, uint32(256), threadsFor(5000))
	require.Equal(t, Dim3{1, 1, 1}, elementwiseGrid(1))
	require.Equal(t, Dim3{4, 1, 1}, elementwiseGrid(1000))
	require.Equal(t, Dim3{maxGrid, 1, 1}, elementwiseGrid(1<<30))
	require.Equal(t, uint64(0xffffffff), i32(-1))
	require.Equal(t, uint64(0x3f800000), f32(1))
}

func TestLinearSplit(t *testing.T) {
	for _, c := range []struct{ N, K, cols, warps, warp, want int }{
		{14336, 4096, 1, 8, 32, 1}, // enough columns
		{4096, 4096, 1, 8, 32, 2},
		{1024, 4096, 1, 8, 32, 8}, // a GQA key projection
		{1024, 512, 1, 8, 32, 2},  // short rows: each warp keeps a step
		{512, 2048, 1, 4, 64, 4},  // a wavefront of 64: 4 per block
		{128256, 2048, 1, 8, 32, 1},
		{1024, 4096, 4, 8, 32, 8},
		{67, 96, 1, 8, 32, 1}, // K < 2 steps: no split
	} {
		got := linearSplit(c.N, c.K, c.cols, c.warps, c.warp)
		require.Equal(t, c.want, got, "%+v", c)
	}
}

func TestPrefetchPlan(t *testing.T) {
	const MB = 1 << 20
	for _, c := range []struct {
		name   string
		sizes  []int
		budget int
		want   []int
	}{
		{"all fit", []int{1000, 2000, 300}, 10000, []int{992, 2000, 288}}, // multiples of 16
		{"one", []int{100 * MB}, 25 * MB, []int{25 * MB}},
		// Llama-3.2-1B after q/k/v: o (8 MiB) whole, gate and up the rest
		// of a 25 MiB budget (an H100's half L2) between them.
		{"o, gate, up", []int{8 * MB, 32 * MB, 32 * MB}, 25 * MB, []int{8 * MB, 17 * MB / 2, 17 * MB / 2}},
		// Equal shares rounded down to multiples of 16.
		{"split", []int{50000, 50000, 50000}, 1000, []int{320, 320, 320}},
		// A range that fits its share only once a smaller one is taken
		// whole: 3008 fits 10000/3, then 3392 fits 6992/2, and the last
		// gets the 3600 left.
		{"cascade", []int{3008, 20000, 3392}, 10000, []int{3008, 3600, 3392}},
		{"nothing", []int{1000}, 0, []int{0}},
	} {
		plan := make([]int, len(c.sizes))
		prefetchPlan(c.sizes, c.budget, plan)
		require.Equal(t, c.want, plan, c.name)
		total := 0
		for _, p := range plan {
			total += p
		}
		require.LessOrEqual(t, total, max(c.budget, 0), c.name)
	}
}

func TestPrefetchFromEnv(t *testing.T) {
	checkEnv(t, "GOPARD_GPU_PREFETCH", PrefetchFromEnv, []envCase[int]{
		{"", 0, false}, {"0", 0, false}, {"off", 0, false}, {"OFF", 0, false},
		{"1", PrefetchHalfL2, false}, {"on", PrefetchHalfL2, false},
		{"24MiB", 24 << 20, false}, {"0MiB", 0, false},
		{"1024MiB", 1 << 30, false},
		{"24", 0, true}, {"-1MiB", 0, true}, {"24MB", 0, true}, {"yes", 0, true}, {"1025MiB", 0, true},
	})
}

func TestFuseNormFromEnv(t *testing.T) {
	checkEnv(t, "GOPARD_GPU_FUSE_NORM", FuseNormFromEnv, []envCase[bool]{
		{"", false, false}, {"0", false, false}, {"off", false, false}, {" Off ", false, false},
		{"1", true, false}, {"on", true, false}, {"ON", true, false},
		{"yes", false, true}, {"2", false, true}, {"onn", false, true},
	})
}

// envCase is a value of an environment variable and what its parser
// should make of it (bad: an error naming the variable).
type envCase[T any] struct {
	env  string
	want T
	bad  bool
}

// checkEnv sets the variable name to each case's value and checks what
// parse returns.
func checkEnv[T any](t *testing.T, name string, parse func() (T, error), cases []envCase[T]) {
	for _, c := range cases {
		t.Setenv(name, c.env)
		got, err := parse()
		if c.bad {
			require.ErrorContains(t, err, name, c.env)
			continue
		}
		require.NoError(t, err, c.env)
		require.Equal(t, c.want, got, c.env)
	}
}

// TestSettingsFromEnv: the three variables read into one Settings, and
// each malformed one named in the error.
func TestSettingsFromEnv(t *testing.T) {
	t.Setenv("GOPARD_GPU_PREFETCH", "12MiB")
	t.Setenv("GOPARD_GPU_FUSE_NORM", "on")
	t.Setenv("GOPARD_GPU_BULK", "1")
	s, err := SettingsFromEnv()
	require.NoError(t, err)
	require.Equal(t, Settings{PrefetchBytes: 12 << 20, FuseNorm: true, Bulk: true}, s)
	t.Setenv("GOPARD_GPU_PREFETCH", "lots")
	t.Setenv("GOPARD_GPU_FUSE_NORM", "maybe")
	t.Setenv("GOPARD_GPU_BULK", "yes")
	_, err = SettingsFromEnv()
	require.ErrorContains(t, err, `GOPARD_GPU_PREFETCH="lots"`)
	require.ErrorContains(t, err, `GOPARD_GPU_FUSE_NORM="maybe"`)
	require.ErrorContains(t, err, `GOPARD_GPU_BULK="yes"`)
}
