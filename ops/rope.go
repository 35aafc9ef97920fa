package ops

// RoPE rotates each head of x in place by the angles of its position, in
// Hugging Face's rotate-half layout: dimension i pairs with i + headDim/2.
//
//	x[i]      = x[i]·cos θ − x[i+h]·sin θ
//	x[i+h]    = x[i+h]·cos θ + x[i]·sin θ        h = headDim/2, θ = pos·freq[i]
//
// x holds rows of heads·headDim values for positions start, start+1, …;
// cos and sin hold headDim/2 values per position (from position 0).
func RoPE(x []float32, heads, headDim, start int, cos, sin []float32) {
	half := headDim / 2
	width := heads * headDim
	for r := 0; (r+1)*width <= len(x); r++ {
		pos := start + r
		c, s := cos[pos*half:(pos+1)*half], sin[pos*half:(pos+1)*half]
		row := x[r*width : (r+1)*width]
		for h := 0; h < heads; h++ {
			head := row[h*headDim : (h+1)*headDim]
			lo, hi := head[:half], head[half:]
			for i := range lo {
				x0, x1 := lo[i], hi[i]
				lo[i] = x0*c[i] - x1*s[i]
				hi[i] = x1*c[i] + x0*s[i]
			}
		}
	}
}
