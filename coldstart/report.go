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
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Report is the activator's account of one scale from zero: the first
// request that waited for it (the leader), the pod that answered, and the
// activator's and the pod's own times. The activator posts it, as JSON, to
// ReportPath of kntrace's podstart service, which adds the Kubernetes
// phases (package podstart).
type Report struct {
	// TraceID and SpanID name the request's span (hex).
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
	// Namespace, Revision and Pod name the revision and the pod that
	// answered the request first (from the pod's timeline header).
	Namespace string `json:"namespace"`
	Revision  string `json:"revision"`
	Pod       string `json:"pod"`
	// Arrival, Handoff and FirstByte are the activator's: the request
	// arrived, was handed to the pod, and its first response byte came back.
	Arrival   time.Time `json:"arrival"`
	Handoff   time.Time `json:"handoff"`
	FirstByte time.Time `json:"firstByte"`
	// ProcessStart and AppReady are the queue-proxy's (Stamp): its process
	// start and the app's first passing readiness probe (zero when unknown).
	ProcessStart time.Time `json:"processStart"`
	AppReady     time.Time `json:"appReady,omitzero"`
}

// ReportPath is where the podstart service takes reports.
const ReportPath = "/v1/coldstarts"

// Validate checks a report; the error names the field and what is wanted.
func (r *Report) Validate() error {
	var errs []error
	if _, err := trace.TraceIDFromHex(r.TraceID); err != nil {
		errs = append(errs, fmt.Errorf("traceID %q: want 32 hex digits, not all zero", r.TraceID))
	}
	if _, err := trace.SpanIDFromHex(r.SpanID); err != nil {
		errs = append(errs, fmt.Errorf("spanID %q: want 16 hex digits, not all zero", r.SpanID))
	}
	for _, f := range []struct{ name, v string }{{"namespace", r.Namespace}, {"revision", r.Revision}, {"pod", r.Pod}} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, fmt.Errorf("%s: empty; want the Kubernetes name", f.name))
		}
	}
	switch {
	case r.Arrival.IsZero() || r.Handoff.IsZero() || r.FirstByte.IsZero() || r.ProcessStart.IsZero():
		errs = append(errs, errors.New("arrival, handoff, firstByte and processStart: want all four times"))
	case r.Handoff.Before(r.Arrival) || r.FirstByte.Before(r.Handoff):
		errs = append(errs, errors.New("arrival, handoff, firstByte: want them in that order"))
	}
	return errors.Join(errs...)
}

// Request is the request's span context.
func (r *Report) Request() trace.SpanContext {
	tid, _ := trace.TraceIDFromHex(r.TraceID)
	sid, _ := trace.SpanIDFromHex(r.SpanID)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}
