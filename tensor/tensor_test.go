package tensor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBF16Rounding(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // exactly half way, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // half way, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81}, // above half
		{float32(math.Inf(1)), 0x7f80},
	} {
		assert.Equal(t, tc.want, Float32ToBF16(tc.in), "%v", tc.in)
	}
	nan := Float32ToBF16(float32(math.NaN()))
	assert.True(t, math.IsNaN(float64(BF16ToFloat32(nan))))
	assert.Equal(t, float32(1.5), BF16ToFloat32(0x3fc0))
	assert.Equal(t, float32(1.5), F16ToFloat32(Float32ToF16(1.5)))
}

func TestCheckedNumElements(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		limit int64
		want  int64
		err   string
	}{
		{[]int{2, 3}, 100, 6, ""},
		{nil, 100, 1, ""},
		{[]int{3, 0, 2}, 0, 0, ""},
		{[]int{1 << 40, 1 << 40}, math.MaxInt64, 0, "more than"},
		{[]int{4, -1}, 100, 0, "negative"},
		{[]int{-1, 0}, 100, 0, "negative"},
	} {
		n, err := CheckedNumElements(tc.shape, tc.limit)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%v", tc.shape)
			continue
		}
		require.NoError(t, err, "%v", tc.shape)
		assert.Equal(t, tc.want, n)
	}
}

func TestViewsAndConvert(t *testing.T) {
	x := FromF32([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	r := x.RowSlice(1, 3)
	assert.Equal(t, []int{2, 2}, r.Shape)
	assert.Equal(t, []float32{3, 4, 5, 6}, r.F32())
	r.F32()[0] = 30
	assert.Equal(t, float32(30), x.F32()[2], "views share storage")
	b := Convert(x, BF16)
	assert.Equal(t, []float32{1, 2, 30, 4, 5, 6}, b.ToF32())
	_, err := FromBytes(F32, []int{2}, make([]byte, 7))
	assert.ErrorContains(t, err, "needs 8 bytes")
	e, err := FromBytes(F16, []int{3, 0, 2}, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, e.Len())
	_, err = ParseDType("I64")
	assert.ErrorContains(t, err, "unsupported dtype")
}
