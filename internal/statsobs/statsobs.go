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

// Package statsobs registers a component's counters as OpenTelemetry
// observable instruments read from one snapshot of its stats per
// collection, as the span buffer and the OTLP relay report themselves.
package statsobs

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// Instrument is one observable instrument whose value is read from a
// snapshot S of a component's stats.
type Instrument[S any] struct {
	Name        string
	Description string
	Unit        string
	// Counter makes it a cumulative counter; otherwise it is a gauge.
	Counter bool
	Value   func(S) int64
}

// Register creates the instruments on m and a callback that takes one
// snapshot per collection and observes each instrument from it.
func Register[S any](m metric.Meter, snapshot func() S, instruments ...Instrument[S]) (metric.Registration, error) {
	observables := make([]metric.Int64Observable, len(instruments))
	var errs []error
	for i, in := range instruments {
		var (
			o   metric.Int64Observable
			err error
		)
		if in.Counter {
			o, err = m.Int64ObservableCounter(in.Name, metric.WithDescription(in.Description), metric.WithUnit(in.Unit))
		} else {
			o, err = m.Int64ObservableGauge(in.Name, metric.WithDescription(in.Description), metric.WithUnit(in.Unit))
		}
		observables[i] = o
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	asObservables := make([]metric.Observable, len(observables))
	for i, o := range observables {
		asObservables[i] = o
	}
	return m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		st := snapshot()
		for i, in := range instruments {
			obs.ObserveInt64(observables[i], in.Value(st))
		}
		return nil
	}, asObservables...)
}
