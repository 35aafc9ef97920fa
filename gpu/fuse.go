package gpu

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gopard/gopard/tensor"
)

// The nn.NormFuser operations: a decode step's residual adds and RMSNorms
// move into the linear layers around them, two launches a layer fewer.
// The output and down projections add their sums to the residual stream
// as they store them (LinearAdd), and the q/k/v and gate/up projections
// of up to normMaxRows rows normalize the residual stream as they load it
// (NormLinearQKV, NormLinearSwiGLU: the linear.cu _norm kernels, where
// every block computes the rows' norms itself); given a rotation, the
// q/k/v projections rotate q and k as they store them (_norm_rope: one
// launch a layer fewer again). Each gives the separate kernels' results
// bit for bit, so the rows of a forward take whichever way is cheaper for
// their count. Written on 2026-11-28 without a GPU: off unless asked for
// (GOPARD_GPU_FUSE_NORM, SetFuseNorm) until an H100 measures it.

// normMaxRows is the most rows the _norm kernels take (their buckets).
const normMaxRows = 2

// normBuckets are the row buckets of the _norm kernels (linear.cu).
var normBuckets = []int{1, 2}

// SetFuseNorm turns the folding of norms and residual adds into the
// linear layers on or off for the forwards that FusesNorm accepts, and
// returns the setting.
func (d *Device) SetFuseNorm(on bool) bool {
	d.fuseNorm = on
	return on
}

// FuseNormSetting is what SetFuseNorm last set.
func (d *Device) FuseNormSetting() bool { return d.fuseNorm }

// FusesNorm implements nn.NormFuser: with SetFuseNorm on, forwards of up
// to normMaxRows rows, unless bf16 activations send the products to the
// tensor-core kernels, which do not normalize as they load.
func (d *Device) FusesNorm(rows int) bool {
	return d.fuseNorm && !d.bf16Act && rows <= normMaxRows
}

// FuseNormFromEnv reads GOPARD_GPU_FUSE_NORM, the setting NewDevice gives
// SetFuseNorm: unset, "0" or "off", or "1" or "on".
func FuseNormFromEnv() (bool, error) { return onOffFromEnv("GOPARD_GPU_FUSE_NORM") }

// onOffFromEnv reads a setting that is off (unset, "0", "off") or on
// ("1", "on") from the environment variable name.
func onOffFromEnv(name string) (bool, error) {
	v := strings.TrimSpace(os.Getenv(name))
	switch strings.ToLower(v) {
	case "", "0", "off":
		return false, nil
	case "1", "on":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: want off or on", name, v)
}

// Settings are what the environment sets on every Device (NewDevice):
// GOPARD_GPU_PREFETCH's budget (SetPrefetch), GOPARD_GPU_FUSE_NORM
// (SetFuseNorm) and GOPARD_GPU_BULK (SetBulk).
type Settings struct {
	PrefetchBytes int
	FuseNorm      bool
	Bulk          bool
}

// SettingsFromEnv reads the Settings from the environment, with an error
// naming each malformed variable. Callers that fall back to the CPU when
// a GPU fails to open check it first, so that a typo is an error, not a
// silent move to the CPU.
func SettingsFromEnv() (Settings, error) {
	prefetch, err1 := PrefetchFromEnv()
	fuse, err2 := FuseNormFromEnv()
	bulk, err3 := BulkFromEnv()
	return Settings{PrefetchBytes: prefetch, FuseNorm: fuse, Bulk: bulk}, errors.Join(err1, err2, err3)
}

// normOnLoad checks a norm's operands (F32 weights of x's width) and
// reports whether the _norm kernels take x's rows (few enough). Callers
// call it first, so that the operands are checked whichever way the norm
// goes.
func (d *Device) normOnLoad(op string, x, norm *tensor.Tensor) bool {
	d.operand(op, norm, tensor.F32)
	if norm.Len() != x.Cols() {
		d.badShape(op, "norm %v for x %v", norm.Shape, x.Shape)
	}
	return x.Rows() <= normMaxRows
}

// normed writes RMSNorm(x)·norm into a scratch tensor with the rmsnorm
// kernel and returns it (valid until the next call): the way of the
// separate operations, for what the _norm kernels do not take.
func (d *Device) normed(x, norm *tensor.Tensor, eps float32) *tensor.Tensor {
	d.normedX = tensor.Tensor{DType: tensor.F32, Shape: x.Shape, Place: tensor.Device, Ptr: d.grow(&d.norm, x.Len()*4)}
	d.RMSNorm(&d.normedX, x, norm, eps)
	return &d.normedX
}
