/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// Usage is what a process has used so far.
type Usage struct {
	// CPU is user plus system time, on all threads.
	CPU time.Duration
	// RSS is the resident set size now, PeakRSS its high-water mark.
	RSS, PeakRSS int64
	// AnonRSS is the part of RSS that is not file-backed (the binary's own
	// pages are): what a container's memory limit cannot reclaim.
	AnonRSS int64
}

// Usage reads the process's CPU time and resident memory from /proc.
func (p *Process) Usage() (Usage, error) {
	pid := p.Pid()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	// The command name (field 2) may hold spaces: fields count from its ")".
	i := strings.LastIndexByte(string(stat), ')')
	fields := strings.Fields(string(stat)[i+1:])
	if len(fields) < 13 {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return Usage{}, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, fields[11], fields[12])
	}
	u := Usage{CPU: time.Duration(utime+stime) * clockTick}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		for _, f := range []struct {
			prefix string
			into   *int64
		}{{"VmRSS:", &u.RSS}, {"VmHWM:", &u.PeakRSS}, {"RssAnon:", &u.AnonRSS}} {
			if v, ok := strings.CutPrefix(line, f.prefix); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				*f.into = kb << 10
			}
		}
	}
	return u, nil
}
