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

package revisions

import (
	"strconv"
	"strings"
	"time"

	"knative.dev/pkg/apis"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/propagation"
)

// ParseInject reads kntrace.dev/inject: "true" or "false", any case.
func ParseInject(v string) (bool, *apis.FieldError) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, apis.ErrInvalidValue(v, conventions.InjectAnnotation, `want "true" or "false"`)
	}
	return b, nil
}

// ParseSamplingRate reads kntrace.dev/sampling-rate: a number in [0, 1].
func ParseSamplingRate(v string) (float64, *apis.FieldError) {
	r, err := conventions.ParseRate(v)
	if err != nil {
		return 0, apis.ErrInvalidValue(v, conventions.SamplingRateAnnotation, "want a number in [0, 1], e.g. 0.1 (10% of new traces) or 1 (all)")
	}
	return r, nil
}

// ParsePropagators reads kntrace.dev/propagators and returns the normalised
// list (see propagation.Normalize).
func ParsePropagators(v string) (string, *apis.FieldError) {
	p, err := propagation.Normalize(v)
	if err != nil {
		return "", apis.ErrInvalidValue(v, conventions.PropagatorsAnnotation,
			"want a comma-separated list of "+strings.Join(propagation.Names(), ", "))
	}
	return p, nil
}

// ParseRelayBytes reads kntrace.dev/relay-max-bytes or
// kntrace.dev/relay-max-request-bytes (annotation): a size in bytes with an
// optional Ki, Mi or Gi suffix, from 64Ki to 1Gi.
func ParseRelayBytes(annotation, v string) (int64, *apis.FieldError) {
	n, err := conventions.ParseByteSize(v)
	if err != nil {
		return 0, apis.ErrInvalidValue(v, annotation, "want a size in bytes from 64Ki to 1Gi, e.g. 16Mi or 16777216 (suffixes Ki, Mi, Gi, k, M, G)")
	}
	return n, nil
}

// ParseRelayDrainTimeout reads kntrace.dev/relay-drain-timeout: a duration
// from 100ms to 5m.
func ParseRelayDrainTimeout(v string) (time.Duration, *apis.FieldError) {
	d, err := conventions.ParseDrainTimeout(v)
	if err != nil {
		return 0, apis.ErrInvalidValue(v, conventions.RelayDrainTimeoutAnnotation, "want a duration from 100ms to 5m, e.g. 10s or 1m30s")
	}
	return d, nil
}
