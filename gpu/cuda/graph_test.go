package cuda

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/gpu"
)

// fakeGraphs is a graphOps that logs what the recorder asks for and
// "runs" each launch by appending its kernel and arguments to ran, so a
// test can check that every launch ran once, in order, with its own
// arguments, whichever way it was issued.
type fakeGraphs struct {
	log      []string
	ran      []string
	graphs   map[int][]heldLaunch // live graphs: the launches they were built from
	args     map[int][]uint64
	next     int
	buildErr error
}

func newFakeGraphs() *fakeGraphs {
	return &fakeGraphs{graphs: map[int][]heldLaunch{}, args: map[int][]uint64{}}
}

func (f *fakeGraphs) run(l *heldLaunch, args []uint64) {
	f.ran = append(f.ran, fmt.Sprint(l.fn, l.grid, args))
}

func (f *fakeGraphs) direct(l *heldLaunch, args []uint64) error {
	f.log = append(f.log, "direct")
	f.run(l, args)
	return nil
}

func (f *fakeGraphs) build(ls []heldLaunch, args []uint64) (graphHandle, error) {
	if f.buildErr != nil {
		return nil, f.buildErr
	}
	f.next++
	f.graphs[f.next] = slices.Clone(ls)
	f.args[f.next] = slices.Clone(args)
	f.log = append(f.log, fmt.Sprintf("build %d (%d nodes)", f.next, len(ls)))
	return f.next, nil
}

func (f *fakeGraphs) launch(g graphHandle, changed []int, ls []heldLaunch, args []uint64) error {
	id := g.(int)
	nodes, nodeArgs := f.graphs[id], f.args[id]
	for _, i := range changed { // a node update: new arguments, same shape
		c, l := &nodes[i], &ls[i]
		copy(nodeArgs[c.off:c.off+c.n], args[l.off:l.off+l.n])
	}
	f.log = append(f.log, fmt.Sprintf("launch %d changed %v", id, changed))
	for i := range nodes {
		f.run(&nodes[i], nodeArgs[nodes[i].off:nodes[i].off+nodes[i].n])
	}
	return nil
}

func (f *fakeGraphs) destroy(g graphHandle) {
	delete(f.graphs, g.(int))
	f.log = append(f.log, fmt.Sprintf("destroy %d", g.(int)))
}

// step records a decode-step-like run: kernels 1..n, the second taking pos.
func step(t *testing.T, r *graphRecorder, want *[]string, n int, pos uint64) {
	t.Helper()
	stepOf(t, r, want, 0, n, pos)
}

// stepOf is step with kernels variant·1000 + 1..n.
func stepOf(t *testing.T, r *graphRecorder, want *[]string, variant, n int, pos uint64) {
	t.Helper()
	for k := variant*1000 + 1; k <= variant*1000+n; k++ {
		args := []uint64{uint64(k) * 100}
		if k == 2 {
			args = append(args, pos)
		}
		grid := gpu.Dim3{X: uint32(k), Y: 1, Z: 1}
		require.NoError(t, r.record(uintptr(k), grid, gpu.Dim3{X: 256, Y: 1, Z: 1}, args))
		*want = append(*want, fmt.Sprint(uintptr(k), grid, args))
	}
}

func TestGraphRecorder(t *testing.T) {
	f := newFakeGraphs()
	r := newGraphRecorder(f)
	var want []string

	require.NoError(t, r.flush()) // nothing held: nothing happens
	step(t, r, &want, 6, 0)
	require.Empty(t, f.ran, "launches are held until a flush")
	require.NoError(t, r.flush())
	step(t, r, &want, 6, 1)
	require.NoError(t, r.flush())
	step(t, r, &want, 6, 2)
	require.NoError(t, r.flush())
	step(t, r, &want, 6, 2) // same arguments: nothing to update
	require.NoError(t, r.flush())
	step(t, r, &want, 3, 3) // too short for a graph
	require.NoError(t, r.flush())
	require.Equal(t, want, f.ran)
	require.Equal(t, []string{
		"direct", "direct", "direct", "direct", "direct", "direct", // seen once: one by one
		"build 1 (6 nodes)", "launch 1 changed []",
		"launch 1 changed [1]",
		"launch 1 changed []",
		"direct", "direct", "direct",
	}, f.log)
	require.Equal(t, 1, r.built)
	require.Equal(t, 2, r.relaunched)

	// A longer run is issued in segments of graphSegment launches.
	f.log = nil
	for range 3 {
		step(t, r, &want, graphSegment+5, 7)
		require.NoError(t, r.flush())
	}
	require.Equal(t, want, f.ran)
	require.Equal(t, 2+1, r.built, "the full segment and the tail")

	// A failed build turns graphs off; launches still run.
	f2 := newFakeGraphs()
	f2.buildErr = errors.New("no graphs here")
	r2 := newGraphRecorder(f2)
	var want2 []string
	for range 3 {
		step(t, r2, &want2, 5, 1)
		require.NoError(t, r2.flush())
	}
	require.Equal(t, want2, f2.ran)
	require.EqualError(t, r2.err, "no graphs here")
	require.Zero(t, r2.built)
}

func TestGraphRecorderEvicts(t *testing.T) {
	f := newFakeGraphs()
	r := newGraphRecorder(f)
	var want []string
	for v := range graphCacheSize + 2 {
		for range 2 {
			stepOf(t, r, &want, v, graphMinLaunches, 0)
			require.NoError(t, r.flush())
		}
	}
	require.Equal(t, want, f.ran)
	require.Len(t, r.graphs, graphCacheSize)
	require.Len(t, f.graphs, graphCacheSize, "evicted graphs are destroyed")
	require.Contains(t, f.log, "destroy 1")
	require.Contains(t, f.log, "destroy 2")
	r.close()
	require.Empty(t, f.graphs)
}
