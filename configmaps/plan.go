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

package configmaps

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Change is what a user asks for; nil fields are left as they are.
type Change struct {
	Protocol     *string
	Endpoint     *string
	SamplingRate *float64
}

// IsEmpty reports whether the change asks for nothing.
func (c Change) IsEmpty() bool {
	return c.Protocol == nil && c.Endpoint == nil && c.SamplingRate == nil
}

// keyEdits maps a change to the shape's keys: a nil value deletes the key.
func (c Change) keyEdits(shape Shape, current map[string]string) (map[string]*string, error) {
	edits := map[string]*string{}
	protoKey, endpointKey, rateKey := ProtocolKey, EndpointKey, SamplingRateKey
	if shape == ShapeLegacy {
		protoKey, endpointKey, rateKey = BackendKey, ZipkinEndpointKey, SampleRateKey
	}
	if c.Protocol != nil {
		p := *c.Protocol
		if shape == ShapeLegacy && p != BackendZipkin && p != BackendNone {
			return nil, fmt.Errorf("protocol %q: legacy config-tracing accepts only %q or %q (its backend key); for OTLP run `kn trace config migrate` on a Knative 1.19+ cluster",
				p, BackendZipkin, BackendNone)
		}
		if shape == ShapeObservability {
			switch p {
			case ProtocolGRPC, ProtocolHTTPProtobuf, ProtocolNone, ProtocolStdout:
			default:
				return nil, fmt.Errorf("protocol %q: want one of grpc, http/protobuf, none, stdout (the values Knative's %s accepts)", p, ProtocolKey)
			}
		}
		edits[protoKey] = &p
		// Knative refuses an endpoint next to protocol none or stdout, so a
		// switch to either drops it unless the user set one explicitly.
		if (p == ProtocolNone || p == ProtocolStdout) && c.Endpoint == nil && shape == ShapeObservability {
			if _, ok := current[endpointKey]; ok {
				edits[endpointKey] = nil
			}
		}
	}
	if c.Endpoint != nil {
		if *c.Endpoint == "" {
			edits[endpointKey] = nil
		} else {
			e := *c.Endpoint
			edits[endpointKey] = &e
		}
	}
	if c.SamplingRate != nil {
		r := *c.SamplingRate
		if !(r >= 0 && r <= 1) {
			return nil, fmt.Errorf("sampling rate %v: want a number in [0, 1] (%s)", r, rateKey)
		}
		s := formatRate(r)
		edits[rateKey] = &s
	}
	return edits, nil
}

// KeyChange is one key's value before and after (nil = absent).
type KeyChange struct {
	Key    string  `json:"key"`
	Before *string `json:"before"`
	After  *string `json:"after"`
}

// Plan is the outcome of applying a change to one ConfigMap, not yet written.
type Plan struct {
	Namespace string      `json:"namespace"`
	Name      string      `json:"configMap"`
	Shape     Shape       `json:"shape"`
	Changes   []KeyChange `json:"changes,omitempty"`
	// LabelsRestored are webhook labels the write puts back.
	LabelsRestored map[string]string `json:"labelsRestored,omitempty"`
	Problems       []Problem         `json:"problems,omitempty"`

	after         *corev1.ConfigMap
	dropsPrevious bool
}

// DataChanged reports whether any tracing key changes.
func (p *Plan) DataChanged() bool { return len(p.Changes) > 0 }

// NeedsWrite reports whether applying the plan writes anything.
func (p *Plan) NeedsWrite() bool {
	return p.DataChanged() || len(p.LabelsRestored) > 0 || p.dropsPrevious
}

// RollsPods reports whether the write restarts workloads: serving serialises
// its observability (and, before 1.19, tracing) config into every
// queue-proxy's environment, so every revision's pods roll.
func (p *Plan) RollsPods() bool { return p.DataChanged() && p.Namespace == ServingNamespace }

// After is the ConfigMap as it will be written.
func (p *Plan) After() *corev1.ConfigMap { return p.after }

// Diff renders the change as a unified-diff-like text.
func (p *Plan) Diff() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s/%s\n+++ %s/%s\n", p.Namespace, p.Name, p.Namespace, p.Name)
	for _, c := range p.Changes {
		if c.Before != nil {
			fmt.Fprintf(&b, "-  %s: %q\n", c.Key, *c.Before)
		}
		if c.After != nil {
			fmt.Fprintf(&b, "+  %s: %q\n", c.Key, *c.After)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.LabelsRestored)) {
		fmt.Fprintf(&b, "+  metadata.labels.%s: %q\n", k, p.LabelsRestored[k])
	}
	return b.String()
}

type planOptions struct {
	check CheckOptions
	// enforce refuses a result with error problems.
	enforce bool
	// recordPrevious stores the current tracing keys in PreviousAnnotation.
	recordPrevious bool
	// dropPrevious removes PreviousAnnotation (a rollback).
	dropPrevious bool
}

// planEdits applies key edits to a copy of cm, checks the result and
// computes what changes. It never modifies cm.
func planEdits(cm *corev1.ConfigMap, shape Shape, edits map[string]*string, opts planOptions) (*Plan, error) {
	after := cm.DeepCopy()
	if after.Data == nil {
		after.Data = map[string]string{}
	}
	p := &Plan{Namespace: cm.Namespace, Name: cm.Name, Shape: shape, after: after}
	previous := map[string]*string{}
	for _, k := range shape.TracingKeys() {
		previous[k] = nil
		if v, ok := cm.Data[k]; ok {
			previous[k] = &v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(edits)) {
		before, want := previous[k], edits[k]
		if (want == nil && before == nil) || (want != nil && before != nil && *want == *before) {
			continue
		}
		if want == nil {
			delete(after.Data, k)
		} else {
			after.Data[k] = *want
		}
		p.Changes = append(p.Changes, KeyChange{Key: k, Before: before, After: want})
	}
	for k, v := range webhookLabels(cm.Namespace, shape) {
		if after.Labels[k] == v {
			continue
		}
		if after.Labels == nil {
			after.Labels = map[string]string{}
		}
		if p.LabelsRestored == nil {
			p.LabelsRestored = map[string]string{}
		}
		after.Labels[k], p.LabelsRestored[k] = v, v
	}
	p.Problems = Check(shape, cm.Namespace, after.Data, nil, opts.check)
	if errs := Errors(p.Problems); opts.enforce && len(errs) > 0 {
		return p, &RefusedError{Problems: errs}
	}
	if p.DataChanged() && opts.recordPrevious {
		b, err := json.Marshal(previous)
		if err != nil {
			return nil, err
		}
		if after.Annotations == nil {
			after.Annotations = map[string]string{}
		}
		after.Annotations[PreviousAnnotation] = string(b)
	}
	if _, ok := after.Annotations[PreviousAnnotation]; ok && opts.dropPrevious {
		delete(after.Annotations, PreviousAnnotation)
		p.dropsPrevious = true
	}
	return p, nil
}

// PlanChange computes what Set would write to cm, without writing.
func PlanChange(cm *corev1.ConfigMap, shape Shape, change Change, opts CheckOptions) (*Plan, error) {
	edits, err := change.keyEdits(shape, cm.Data)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return planEdits(cm, shape, edits, planOptions{check: opts, enforce: true, recordPrevious: true})
}

// PlanRollback computes the write that restores the tracing keys recorded in
// PreviousAnnotation. Restoring exactly what was there is the contract, so
// hazards are reported in Problems but do not block.
func PlanRollback(cm *corev1.ConfigMap, shape Shape) (*Plan, error) {
	raw, ok := cm.Annotations[PreviousAnnotation]
	if !ok {
		return nil, fmt.Errorf("%s/%s: nothing to roll back: annotation %s is absent (kntrace has not changed this ConfigMap, or it was already rolled back)",
			cm.Namespace, cm.Name, PreviousAnnotation)
	}
	var previous map[string]*string
	if err := json.Unmarshal([]byte(raw), &previous); err != nil {
		return nil, fmt.Errorf("%s/%s: annotation %s is not the JSON kntrace writes: %w", cm.Namespace, cm.Name, PreviousAnnotation, err)
	}
	edits := map[string]*string{}
	for _, k := range shape.TracingKeys() {
		if v, ok := previous[k]; ok {
			edits[k] = v
		}
	}
	return planEdits(cm, shape, edits, planOptions{dropPrevious: true})
}

// RefusedError is returned when the requested configuration would crash a
// component or silently export nothing; nothing is written.
type RefusedError struct {
	Problems []Problem
}

func (e *RefusedError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "refused, nothing was written:\n  " + strings.Join(msgs, "\n  ")
}

// InputError is a change that cannot be expressed in the ConfigMap's shape
// (an unknown protocol, a rate outside [0, 1], a missing endpoint); nothing
// is written.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }
