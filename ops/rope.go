package ops

import "github.com/gopard/gopard/ops/asm"

// RoPE rotates each head of x in place by the angles of its position, in
// Hugging Face's rotate-half layout: dimension i pairs with i + headDim/2.
//
//	x[i]      = x[i]·cos θ − x[i+h]·sin θ
//	x[i+h]    = x[i+h]·cos θ + x[i]·sin θ        h = headDim/2, θ = pos·freq[i]
//
// x holds rows of heads·headDim values for positions start, start+1, …;
// cos and sin hold headDim/2 values per position (from position 0).
// Each product is rounded before the sum (asm.RoPERow), so the rotation
// gives the same bits with or without assembly.
func RoPE(x []float32, heads, headDim, start int, cos, sin []float32) {
	half := headDim / 2
	width := heads * headDim
	for r := 0; (r+1)*width <= len(x); r++ {
		pos := start + r
		asm.RoPERow(x[r*width:(r+1)*width], heads, cos[pos*half:(pos+1)*half], sin[pos*half:(pos+1)*half])
	}
}
