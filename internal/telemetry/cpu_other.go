//go:build !linux

package telemetry

import "errors"

// readCPUTimes is implemented for Linux only (where Flowker is deployed);
// elsewhere system.cpu.usage is not reported.
func readCPUTimes() (busy, total uint64, err error) {
	return 0, 0, errors.New("CPU usage is only measured on Linux")
}
