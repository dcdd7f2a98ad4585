// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// procMemory is a process's memory as /proc/PID/status gives it, in bytes:
// resident now (VmRSS) and the peak so far (VmHWM).
type procMemory struct {
	RSS, HWM uint64
}

// readProcMemory reads /proc/PID/status.
func readProcMemory(pid int) (procMemory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	defer f.Close()
	return parseProcMemory(f)
}

// parseProcMemory takes VmRSS and VmHWM ("VmRSS:   1780 kB") from the text
// of /proc/PID/status; either one missing (a kernel thread, a zombie) is an
// error, not a zero.
func parseProcMemory(r io.Reader) (procMemory, error) {
	var m procMemory
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		var dst *uint64
		switch key {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		}
		if !ok || dst == nil {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(value), " ")
		if unit != "kB" {
			return procMemory{}, fmt.Errorf("%s: want a size in kB, got %q", key, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return procMemory{}, fmt.Errorf("%s: %v", key, err)
		}
		*dst = kb * 1024
		seen++
	}
	if err := sc.Err(); err != nil {
		return procMemory{}, err
	}
	if seen != 2 {
		return procMemory{}, fmt.Errorf("no VmRSS and VmHWM in the process status")
	}
	return m, nil
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// Linux whatever the kernel's own tick).
const userHZ = 100

// readProcCPU is a process's CPU time (user and system) so far.
func readProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcCPU(string(b))
}

// parseProcCPU takes utime and stime (fields 14 and 15) from the text of
// /proc/PID/stat. The command name (field 2, in parentheses) may hold
// spaces and parentheses, so the fields are counted after its last ")".
func parseProcCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in the process stat")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("process stat has %d fields after the name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process stat: %v", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
