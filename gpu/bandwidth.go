package gpu

import (
	"fmt"
	"time"
)

// copyBlocks is the grid of the copy16 kernel: enough blocks of
// blockThreads for every multiprocessor of today's largest GPUs to hold
// several, each striding over the buffer.
const copyBlocks = 4096

// Copy queues dst = src for bytes (a multiple of 16) of device memory at
// 16-byte aligned addresses.
func (d *Device) Copy(dst, src uintptr, bytes int) {
	if !(bytes%16 == 0 && dst%16 == 0 && src%16 == 0 && bytes/16 < 1<<31) {
		d.badShape("Copy", "%d bytes at %#x → %#x", bytes, src, dst)
	}
	if bytes == 0 {
		return
	}
	words := bytes / 16
	d.launch("copy16", Dim3{uint32(min(copyBlocks, ceilDiv(words, blockThreads))), 1, 1}, Dim3{blockThreads, 1, 1},
		uint64(dst), uint64(src), i32(words))
}

// CopyBandwidth measures the device memory's bandwidth as a roofline for
// memory-bound kernels: it copies bytes (rounded down to 16; pick several
// times the last-level cache) between two buffers runs times after a
// warm-up and returns the best rate in bytes per second, counting the
// bytes read and the bytes written, as vendors' copy benchmarks do.
func (d *Device) CopyBandwidth(bytes, runs int) (float64, error) {
	bytes &^= 15
	if bytes <= 0 || runs < 1 {
		return 0, fmt.Errorf("%s: CopyBandwidth of %d bytes, %d runs", d.Name(), bytes, runs)
	}
	var bufs [2]uintptr
	for i := range bufs {
		p, err := d.drv.Alloc(bytes)
		if err != nil {
			return 0, fmt.Errorf("%s: CopyBandwidth: allocating %d bytes: %w", d.Name(), bytes, err)
		}
		d.track(p, bytes)
		defer d.free(p)
		bufs[i] = p
	}
	src, dst := bufs[0], bufs[1]
	if err := d.drv.Zero(src, bytes); err != nil {
		return 0, err
	}
	d.Copy(dst, src, bytes) // warm-up
	best := time.Duration(0)
	for range runs {
		t, err := d.Time(func() { d.Copy(dst, src, bytes) })
		if err != nil {
			return 0, err
		}
		if best == 0 || t < best {
			best = t
		}
	}
	if best <= 0 {
		return 0, fmt.Errorf("%s: CopyBandwidth: the copy took no measurable time", d.Name())
	}
	return 2 * float64(bytes) / best.Seconds(), nil
}
