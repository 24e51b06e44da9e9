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
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header carries a pod's timeline to the activator on a response:
// "start=<unix ns>,ready=<unix ns>" (ready omitted when unknown).
const Header = "K-Kntrace-Timeline"

// HeaderValue formats the timeline for Header.
func (t *Timeline) HeaderValue() string {
	v := "start=" + strconv.FormatInt(t.start, 10)
	if r := t.ready.Load(); r != 0 {
		v += ",ready=" + strconv.FormatInt(r, 10)
	}
	return v
}

// ParseHeader reads a Header value; ready is zero when absent.
// Unknown keys are ignored so the format can grow.
func ParseHeader(v string) (start, ready time.Time, err error) {
	var haveStart bool
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return time.Time{}, time.Time{}, fmt.Errorf("%s: %q is not key=value", Header, part)
		}
		var dst *time.Time
		switch k {
		case "start":
			dst, haveStart = &start, true
		case "ready":
			dst = &ready
		default:
			continue
		}
		ns, perr := strconv.ParseInt(val, 10, 64)
		if perr != nil || ns <= 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("%s: %s=%q: want Unix nanoseconds", Header, k, val)
		}
		*dst = time.Unix(0, ns)
	}
	if !haveStart {
		return time.Time{}, time.Time{}, fmt.Errorf("%s: %q has no start", Header, v)
	}
	return start, ready, nil
}
