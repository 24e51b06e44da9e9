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

package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger"
)

// Bounds of the wait for a trace to be whole in Jaeger.
const (
	traceTimeout = 2 * time.Minute
	tracePoll    = 200 * time.Millisecond
	// traceStablePolls is how many polls in a row must find the same
	// number of spans: spans come through each pod's relay and the
	// Collector's batches.
	traceStablePolls = 5
)

// showTrace waits until Jaeger holds the trace with a cold start, spans
// from every one of services, the Kubernetes phases of every pod the
// activator waited for (podstart sends them once the pod is Ready) and no
// more spans arriving, then prints it with `kn trace get`, which reaches
// Jaeger through the API server.
func (d *demo) showTrace(ctx context.Context, traceID string, services ...string) error {
	jc, err := d.c.DialJaeger(ctx)
	if err != nil {
		return fmt.Errorf("Jaeger's query API: %w", err)
	}
	defer jc.Close()
	deadline := time.Now().Add(traceTimeout)
	spans, stable := -1, 0
	var missing []string
	for stable < traceStablePolls {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		raw, err := jc.GetTrace(qctx, traceID)
		cancel()
		switch {
		case err == nil:
			tr, berr := jaeger.Build(raw)
			if berr != nil {
				return berr
			}
			missing = missingServices(tr, services)
			if tr.ColdStart == nil {
				missing = append(missing, "a cold start")
			}
			missing = append(missing, waitsWithoutPhases(tr)...)
			if len(missing) == 0 && tr.SpanCount == spans {
				stable++
			} else {
				stable = 0
			}
			spans = tr.SpanCount
		case !errors.Is(err, jaeger.ErrNotFound):
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trace %s: not whole in Jaeger within %s (%d spans; missing %v)", traceID, traceTimeout, spans, missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tracePoll):
		}
	}
	if code := d.kn(ctx, "get", traceID, "--width", fmt.Sprint(d.cfg.width)); code != 0 {
		return fmt.Errorf("kn trace get %s exited %d", traceID, code)
	}
	return nil
}

// missingServices lists those of want that have no span in tr.
func missingServices(tr *jaeger.Trace, want []string) []string {
	have := map[string]bool{}
	for _, s := range tr.Services {
		have[s] = true
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	return missing
}

// waitsWithoutPhases names the activator's cold-start waits that have no
// Kubernetes phases under them yet.
func waitsWithoutPhases(tr *jaeger.Trace) []string {
	var missing []string
	for _, s := range tr.Spans {
		if s.Service != "activator" || !s.ColdStart {
			continue
		}
		if !slices.ContainsFunc(s.Children, func(c *jaeger.Span) bool { return c.OperationName == coldstart.SpanKubernetes }) {
			missing = append(missing, fmt.Sprintf("the Kubernetes phases of the activator's wait %s %q", s.SpanID, s.OperationName))
		}
	}
	return missing
}
