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
// "start=<unix ns>,ready=<unix ns>,pod=<name>" (ready omitted when unknown,
// pod when the timeline was not given one).
const Header = "K-Kntrace-Timeline"

// Stamp is a Header value read back.
type Stamp struct {
	// Start is the process start, Ready the app's readiness (zero when
	// unknown).
	Start, Ready time.Time
	// Pod is the pod's name ("" when the header names none).
	Pod string
}

// HeaderValue formats the timeline for Header.
func (t *Timeline) HeaderValue() string {
	v := "start=" + strconv.FormatInt(t.start, 10)
	if r := t.ready.Load(); r != 0 {
		v += ",ready=" + strconv.FormatInt(r, 10)
	}
	if t.pod != "" {
		v += ",pod=" + t.pod
	}
	return v
}

// ParseHeader reads a Header value. Unknown keys are ignored so the format
// can grow; the error names the key and what it wants.
func ParseHeader(v string) (Stamp, error) {
	var st Stamp
	var haveStart bool
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Stamp{}, fmt.Errorf("%s: %q is not key=value", Header, part)
		}
		var dst *time.Time
		switch k {
		case "start":
			dst, haveStart = &st.Start, true
		case "ready":
			dst = &st.Ready
		case "pod":
			if !isPodName(val) {
				return Stamp{}, fmt.Errorf("%s: pod=%q: want a Kubernetes pod name (lower-case letters, digits, '-' and '.')", Header, val)
			}
			st.Pod = val
			continue
		default:
			continue
		}
		ns, perr := strconv.ParseInt(val, 10, 64)
		if perr != nil || ns <= 0 {
			return Stamp{}, fmt.Errorf("%s: %s=%q: want Unix nanoseconds", Header, k, val)
		}
		*dst = time.Unix(0, ns)
	}
	if !haveStart {
		return Stamp{}, fmt.Errorf("%s: %q has no start", Header, v)
	}
	return st, nil
}

// isPodName reports whether s is a DNS subdomain name, as pod names are.
func isPodName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.' {
			return false
		}
	}
	return true
}
