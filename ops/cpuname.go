package ops

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// CPUName names the processor for reports, e.g. "AMD EPYC (family 25,
// model 17)" from /proc/cpuinfo's first processor, or "" where that file
// is not readable. The family matters beside the name: the same name
// covers generations with different kernels' best choices (see
// DotPrefetch) and half or twice the FMA rate.
func CPUName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseCPUInfo(bufio.NewScanner(f))
}

// parseCPUInfo reads the model name, family and model of the first
// processor of a /proc/cpuinfo listing.
func parseCPUInfo(sc *bufio.Scanner) string {
	var name, family, model string
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if name != "" {
				break // the end of the first processor's block
			}
			continue
		}
		switch strings.TrimSpace(key) {
		case "model name":
			name = strings.TrimSpace(val)
		case "cpu family":
			family = strings.TrimSpace(val)
		case "model":
			model = strings.TrimSpace(val)
		}
	}
	switch {
	case name == "":
		return ""
	case family == "" || model == "":
		return name
	}
	return fmt.Sprintf("%s (family %s, model %s)", name, family, model)
}
