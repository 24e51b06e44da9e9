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

package coldstart

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcessStart is this process's start time, from the starttime field of
// /proc/self/stat (clock ticks since boot, USER_HZ=100) and /proc/uptime;
// accurate to about 10 ms.
func ProcessStart() (time.Time, error) {
	now := time.Now()
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return time.Time{}, err
	}
	uptime, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}, err
	}
	return processStartFrom(now, string(stat), string(uptime))
}

func processStartFrom(now time.Time, stat, uptime string) (time.Time, error) {
	// The command name (field 2) is in parentheses and may hold anything.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, errors.New("/proc/self/stat: no command name")
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return time.Time{}, errors.New("/proc/self/stat: too few fields")
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("/proc/self/stat starttime: %w", err)
	}
	up := strings.Fields(uptime)
	if len(up) == 0 {
		return time.Time{}, errors.New("/proc/uptime: empty")
	}
	secs, err := strconv.ParseFloat(up[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("/proc/uptime: %w", err)
	}
	const userHZ = 100
	sinceStart := time.Duration((secs - float64(ticks)/userHZ) * float64(time.Second))
	if sinceStart < 0 {
		sinceStart = 0
	}
	return now.Add(-sinceStart), nil
}
