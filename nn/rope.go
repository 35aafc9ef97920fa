package nn

import (
	"fmt"
	"math"
)

// RoPEConfig holds the rotary embedding parameters of config.json.
type RoPEConfig struct {
	Theta   float64        // rope_theta (base of the frequencies)
	Scaling *Llama3Scaling // rope_scaling with rope_type "llama3"; nil: none
}

// Llama3Scaling is rope_scaling of type "llama3": long wavelengths are
// divided by Factor, short ones kept, and the band between interpolated.
type Llama3Scaling struct {
	Factor               float64 // factor
	LowFreqFactor        float64 // low_freq_factor
	HighFreqFactor       float64 // high_freq_factor
	OriginalMaxPositions int     // original_max_position_embeddings
}

// Validate reports parameters that would give NaN or infinite angles.
func (r RoPEConfig) Validate() error {
	if !(r.Theta > 1) || math.IsInf(r.Theta, 0) {
		return fmt.Errorf("rope_theta %v must be a finite number > 1", r.Theta)
	}
	if s := r.Scaling; s != nil {
		if !(s.Factor > 0) || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) || s.OriginalMaxPositions <= 0 {
			return fmt.Errorf("rope_scaling (llama3) needs factor > 0, high_freq_factor > low_freq_factor > 0 and original_max_position_embeddings > 0; got %+v", *s)
		}
	}
	return nil
}

// InvFreq returns the headDim/2 rotation frequencies, as Hugging Face's
// rope_init functions define them (computed here in float64):
//
//	inv_freq[i] = theta^(-2i/headDim)
//
// With llama3 scaling, for wavelen = 2π/inv_freq:
// wavelen < orig/high → unchanged; wavelen > orig/low → inv_freq/factor;
// in between (1−s)·inv_freq/factor + s·inv_freq, s = (orig/wavelen − low)/(high − low).
func (r RoPEConfig) InvFreq(headDim int) []float64 {
	f := make([]float64, headDim/2)
	for i := range f {
		f[i] = 1 / math.Pow(r.Theta, float64(2*i)/float64(headDim))
	}
	if s := r.Scaling; s != nil {
		orig := float64(s.OriginalMaxPositions)
		lowWavelen, highWavelen := orig/s.LowFreqFactor, orig/s.HighFreqFactor
		for i, inv := range f {
			wavelen := 2 * math.Pi / inv
			switch {
			case wavelen < highWavelen:
			case wavelen > lowWavelen:
				f[i] = inv / s.Factor
			default:
				smooth := (orig/wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				f[i] = (1-smooth)*inv/s.Factor + smooth*inv
			}
		}
	}
	return f
}

// Tables returns cos and sin of pos·inv_freq[i] for positions 0..positions-1,
// (positions, headDim/2) each, for Backend.RoPE.
func (r RoPEConfig) Tables(headDim, positions int) (cos, sin []float32) {
	inv := r.InvFreq(headDim)
	half := len(inv)
	cos, sin = make([]float32, positions*half), make([]float32, positions*half)
	for p := 0; p < positions; p++ {
		for i, f := range inv {
			s, c := math.Sincos(float64(p) * f)
			cos[p*half+i], sin[p*half+i] = float32(c), float32(s)
		}
	}
	return cos, sin
}
