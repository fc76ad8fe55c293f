package bench

import (
	"bufio"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
)

// Machine describes where a report was measured.
type Machine struct {
	GoVersion  string
	OS, Arch   string
	CPU        string // model name from /proc/cpuinfo
	CPUs       int    // logical CPUs
	GOMAXPROCS int
}

// ThisMachine describes the running process's machine.
func ThisMachine() Machine {
	return Machine{
		GoVersion:  goruntime.Version(),
		OS:         goruntime.GOOS,
		Arch:       goruntime.GOARCH,
		CPU:        cpuModel(),
		CPUs:       goruntime.NumCPU(),
		GOMAXPROCS: goruntime.GOMAXPROCS(0),
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// procStatus returns a field of /proc/self/status in bytes (VmRSS, VmHWM),
// or 0 when it cannot be read.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok || k != field {
			continue
		}
		num, _ := strings.CutSuffix(strings.TrimSpace(v), " kB")
		kb, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// resetPeakRSS resets the process's VmHWM to its current RSS, so that a
// later procStatus("VmHWM") reports the peak of what ran in between. See
// proc(5), /proc/pid/clear_refs (Linux 4.0 and later); where it cannot be
// written, VmHWM stays the peak of the whole process.
func resetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
