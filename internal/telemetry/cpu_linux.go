package telemetry

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
)

// readCPUTimes returns the host's busy and total CPU time (clock ticks,
// all cores) from the first line of /proc/stat: user nice system idle
// iowait irq softirq steal. Idle and iowait are not busy; guest time is
// already inside user and nice.
func readCPUTimes() (busy, total uint64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, 0, err
	}
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: unexpected first line")
	}
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(fields[i+1], 10, 64); err != nil {
			return 0, 0, errors.New("/proc/stat: " + err.Error())
		}
		total += v[i]
	}
	idle := v[3] + v[4]
	return total - idle, total, nil
}
