package nn_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// bulkCPU is ops.CPU as an nn.Bulker whose LinearBulk is its Linear and
// whose AttentionBulk is its Attention (the same bits), recording the rows
// of each call.
type bulkCPU struct {
	*ops.CPU
	min  int
	rows []int // LinearBulk's
	att  []int // AttentionBulk's
}

func (b *bulkCPU) BulkRows() int { return b.min }

func (b *bulkCPU) LinearBulk(out, x, w, bias *tensor.Tensor) {
	b.rows = append(b.rows, x.Rows())
	b.CPU.Linear(out, x, w, bias)
}

func (b *bulkCPU) AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	b.att = append(b.att, q.Rows())
	b.CPU.Attention(out, q, k, v, start, heads, kvHeads, headDim)
}

// A Bulker gets exactly the chunks' leading rows whose logits are not
// wanted, BulkRows or more of them, alone; every wanted row goes through
// Linear, and the logits are the plain decoder's.
func TestBulkPrefill(t *testing.T) {
	prompt := make([]int32, 40)
	for i := range prompt {
		prompt[i] = int32(i*7+3) % 50
	}
	// Two layers: ten products a bulk chunk (q, k, v, o, gate, up, down,
	// then the last layer's q, k, v: it stops at the cache).
	const perChunk = 10
	for _, c := range []struct {
		min, chunk, want int
		bulk             []int // the rows of each bulk chunk
	}{
		{min: 8, chunk: 16, want: 1, bulk: []int{16, 16}}, // rows 32..38: 7 < 8, with row 39
		{min: 4, chunk: 16, want: 1, bulk: []int{16, 16, 7}},
		{min: 4, chunk: 16, want: 3, bulk: []int{16, 16, 5}},
		{min: 8, chunk: 16, want: 0, bulk: []int{16, 16, 8}}, // a prefill keeping nothing
		{min: 4, chunk: 64, want: 1, bulk: []int{39}},
		{min: 39, chunk: 64, want: 1, bulk: []int{39}},
		{min: 40, chunk: 64, want: 1},
		{min: 4, chunk: 16, want: 40}, // every row wanted (a score)
		{min: 0, chunk: 16, want: 1},  // off
	} {
		name := fmt.Sprintf("min %d chunk %d want %d", c.min, c.chunk, c.want)
		b := &bulkCPU{CPU: ops.NewCPU(2), min: c.min}
		plain := randomDecoder(t, separateCPU{ops.NewCPU(2)}, tensor.BF16, c.chunk, false)
		bulk := randomDecoder(t, b, tensor.BF16, c.chunk, false)
		want, err := plain.Forward(prompt, 0, c.want)
		require.NoError(t, err)
		want = copyRows(want)
		got, err := bulk.Forward(prompt, 0, c.want)
		require.NoError(t, err)
		require.Equal(t, want, copyRows(got), name)
		var rows []int
		for _, n := range c.bulk {
			for range perChunk {
				rows = append(rows, n)
			}
		}
		require.Equal(t, rows, b.rows, name)
		// Attention once a bulk chunk: the last layer stops at the cache.
		require.Equal(t, c.bulk, b.att, name)
		// The next step reads the cache the bulk rows wrote.
		b.rows, b.att = nil, nil
		want, err = plain.Forward([]int32{9, 4}, len(prompt), 2)
		require.NoError(t, err)
		want = copyRows(want)
		got, err = bulk.Forward([]int32{9, 4}, len(prompt), 2)
		require.NoError(t, err)
		require.Equal(t, want, copyRows(got), name)
		require.Empty(t, b.rows, "%s: a step's rows are all wanted", name)
		require.Empty(t, b.att, name)
	}
}

var _ nn.Bulker = (*bulkCPU)(nil)

// With SetBulkAll every chunk of BulkRows or more goes to the Bulker
// whole, its wanted rows and their LM head included, and the logits are
// the plain decoder's (this Bulker computes as Linear does).
func TestBulkAll(t *testing.T) {
	prompt := make([]int32, 40)
	for i := range prompt {
		prompt[i] = int32(i*11+1) % 50
	}
	for _, c := range []struct {
		want int
		rows int // through LinearBulk in all
		att  int // through AttentionBulk in all
	}{
		// Chunks of 16, 16 and 8, every row wanted: seven products a
		// layer and the LM head, for every row; attention in both layers.
		{want: 40, rows: 40 * (7*2 + 1), att: 40 * 2},
		// The first two chunks only for the cache (ten products, attention
		// in the first layer); the third's 7 rows before the last too,
		// then its last row on through attention, the MLP and the head.
		{want: 1, rows: 32*10 + 8*(7+3) + 1*(4+1), att: 32 + 8 + 1},
	} {
		b := &bulkCPU{CPU: ops.NewCPU(2), min: 4}
		plain := randomDecoder(t, separateCPU{ops.NewCPU(2)}, tensor.BF16, 16, false)
		bulk := randomDecoder(t, b, tensor.BF16, 16, false)
		bulk.SetBulkAll(true)
		want, err := plain.Forward(prompt, 0, c.want)
		require.NoError(t, err)
		want = copyRows(want)
		got, err := bulk.Forward(prompt, 0, c.want)
		require.NoError(t, err)
		require.Equal(t, want, copyRows(got), "want %d", c.want)
		sum := 0
		for _, n := range b.rows {
			sum += n
		}
		require.Equal(t, c.rows, sum, "want %d: rows through the bulk product", c.want)
		sum = 0
		for _, n := range b.att {
			sum += n
		}
		require.Equal(t, c.att, sum, "want %d: rows through the bulk attention", c.want)
		// A chunk shorter than BulkRows keeps Linear and Attention.
		b.rows, b.att = nil, nil
		_, err = bulk.Forward([]int32{3, 4, 5}, len(prompt), 3)
		require.NoError(t, err)
		require.Empty(t, b.rows)
		require.Empty(t, b.att)
	}
}
