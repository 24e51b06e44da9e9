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

package conventions

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The limits of the OTLP relay in kntrace's queue-proxy, per revision: set
// on spec.template.metadata (or the object's metadata, which kntrace's
// webhook copies onto the template), they reach the queue-proxy through the
// podinfo file (PodInfoAnnotation). config-kntrace sets the cluster-wide
// defaults, which the webhook writes onto templates the same way.
const (
	// RelayMaxBytesAnnotation bounds the relay's queue of spans, in bytes.
	RelayMaxBytesAnnotation = "kntrace.dev/relay-max-bytes"
	// RelayMaxRequestBytesAnnotation bounds one export an application sends
	// to the relay, in bytes after decompression.
	RelayMaxRequestBytesAnnotation = "kntrace.dev/relay-max-request-bytes"
	// RelayDrainTimeoutAnnotation bounds the relay's drain when the pod
	// stops, after Knative's queue-proxy has drained its requests.
	RelayDrainTimeoutAnnotation = "kntrace.dev/relay-drain-timeout"
)

// The relay's defaults, and the range every setting of them must fall in.
const (
	DefaultRelayMaxBytes        = 16 << 20
	DefaultRelayMaxRequestBytes = 4 << 20
	DefaultRelayDrainTimeout    = 10 * time.Second

	// MinRelayBytes and MaxRelayBytes bound both byte limits: below 64Ki an
	// ordinary batch of spans does not fit; above 1Gi the relay would hold
	// more than a pod's memory is usually worth.
	MinRelayBytes = 64 << 10
	MaxRelayBytes = 1 << 30
	// MinRelayDrainTimeout and MaxRelayDrainTimeout bound the drain; the
	// pod's terminationGracePeriodSeconds (Knative sets it from the
	// revision's timeoutSeconds) must cover Knative's own drain plus this.
	MinRelayDrainTimeout = 100 * time.Millisecond
	MaxRelayDrainTimeout = 5 * time.Minute
)

// maxByteSizeLen bounds the text ParseByteSize reads: "1073741824" and
// "1024Mi" are far shorter.
const maxByteSizeLen = 32

// byteSuffixes are the unit suffixes ParseByteSize accepts, as Kubernetes
// quantities spell them.
var byteSuffixes = []struct {
	suffix string
	factor int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30},
	{"k", 1e3}, {"M", 1e6}, {"G", 1e9},
}

// ParseByteSize reads a relay byte limit: a whole number of bytes, or one
// with a Kubernetes quantity suffix (Ki, Mi, Gi, k, M, G), in
// [MinRelayBytes, MaxRelayBytes]. The error says what is accepted; callers
// prefix the key.
func ParseByteSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	if len(s) > maxByteSizeLen {
		return 0, fmt.Errorf("%.40q…: want a size in bytes such as 16Mi or 16777216", s)
	}
	num, factor := s, int64(1)
	for _, u := range byteSuffixes {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("%q: want a size in bytes such as 16Mi or 16777216 (suffixes Ki, Mi, Gi, k, M, G)", v)
	}
	if n > MaxRelayBytes/factor || n*factor < MinRelayBytes {
		return 0, fmt.Errorf("%q: want a size from 64Ki to 1Gi", v)
	}
	return n * factor, nil
}

// ParseDrainTimeout reads the relay's drain timeout: a Go duration such as
// 10s or 1m30s, in [MinRelayDrainTimeout, MaxRelayDrainTimeout].
func ParseDrainTimeout(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	if len(s) > maxByteSizeLen {
		return 0, fmt.Errorf("%.40q…: want a duration such as 10s", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 10s or 1m30s", v)
	}
	if d < MinRelayDrainTimeout || d > MaxRelayDrainTimeout {
		return 0, fmt.Errorf("%q: want a duration from 100ms to 5m", v)
	}
	return d, nil
}

// FormatByteSize writes n the way ParseByteSize reads it, with the largest
// binary suffix that divides it.
func FormatByteSize(n int64) string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n != 0 && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
