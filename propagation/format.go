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

package propagation

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kntrace/kntrace/conventions"
)

// Format is one wire format a Propagator reads or writes.
type Format uint8

// The formats kntrace knows. The names in comments are the OTEL_PROPAGATORS
// values that select them.
const (
	// TraceContext is W3C Trace Context: traceparent and tracestate
	// ("tracecontext").
	TraceContext Format = iota + 1
	// Baggage is W3C Baggage: the baggage header ("baggage").
	Baggage
	// B3 is the B3 single header b3 ("b3").
	B3
	// B3Multi is the B3 multiple headers X-B3-TraceId, X-B3-SpanId,
	// X-B3-ParentSpanId, X-B3-Sampled and X-B3-Flags ("b3multi").
	B3Multi
	// Jaeger is the uber-trace-id header, with uberctx-* baggage ("jaeger").
	Jaeger
	// CloudEvents is the CloudEvents HTTP binary-mode form of the
	// distributed-tracing extension: ce-traceparent and ce-tracestate. It is
	// read only: the extension carries the trace that produced the event, so
	// a hop must never overwrite it (see InjectProducer). It has no
	// OTEL_PROPAGATORS name.
	CloudEvents

	maxFormat = CloudEvents
)

// None is the OTEL_PROPAGATORS value that, alone, configures no propagator.
const None = "none"

var formatNames = [...]string{
	TraceContext: "tracecontext",
	Baggage:      "baggage",
	B3:           "b3",
	B3Multi:      "b3multi",
	Jaeger:       "jaeger",
	CloudEvents:  "cloudevents",
}

// String returns the OTEL_PROPAGATORS name of f ("cloudevents" for
// CloudEvents, which has none in the specification).
func (f Format) String() string {
	if f == 0 || f > maxFormat {
		return fmt.Sprintf("Format(%d)", uint8(f))
	}
	return formatNames[f]
}

// DefaultFormats returns what an empty or unset OTEL_PROPAGATORS means:
// tracecontext,baggage.
func DefaultFormats() []Format { return []Format{TraceContext, Baggage} }

// DefaultExtractOrder returns the precedence New uses when no option says
// otherwise: W3C Trace Context first, then B3 single, B3 multi, Jaeger and
// the CloudEvents binary-mode headers (W3C baggage, and uberctx-* when
// Jaeger wins, are read alongside). The package documentation explains why
// W3C comes first.
func DefaultExtractOrder() []Format {
	return []Format{TraceContext, Baggage, B3, B3Multi, Jaeger, CloudEvents}
}

// Names returns the values accepted in OTEL_PROPAGATORS (and in the
// kntrace.dev/propagators annotation), in the order the OpenTelemetry
// specification lists them.
func Names() []string {
	return []string{"tracecontext", "baggage", "b3", "b3multi", "jaeger", None}
}

// ErrUnknownPropagator is wrapped by the error ParseList returns for a value
// it does not accept.
var ErrUnknownPropagator = errors.New("unknown propagator")

// ParseList parses a propagator list as OTEL_PROPAGATORS defines it: names
// separated by commas, surrounding whitespace trimmed, matched without
// regard to case, duplicates ignored. An empty (or all-blank) list means
// DefaultFormats. "none" alone means no propagator (an empty, non-nil
// slice); next to other names it is ignored. Any other value is an error
// that names it and lists the accepted values.
func ParseList(s string) ([]Format, error) {
	out := make([]Format, 0, 4)
	var seen [maxFormat + 1]bool
	sawAny := false
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		sawAny = true
		f, ok := lookupName(item)
		switch {
		case ok:
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		case strings.EqualFold(item, None):
			// Alone, "none" leaves out empty; next to others it is ignored.
		case strings.EqualFold(item, "xray"), strings.EqualFold(item, "ottrace"):
			return nil, fmt.Errorf("%w %q: defined by OpenTelemetry but not supported by kntrace (accepted: %s)",
				ErrUnknownPropagator, item, strings.Join(Names(), ", "))
		default:
			return nil, fmt.Errorf("%w %q (accepted: %s)", ErrUnknownPropagator, item, strings.Join(Names(), ", "))
		}
	}
	if !sawAny {
		return DefaultFormats(), nil
	}
	return out, nil
}

// Normalize parses an OTEL_PROPAGATORS list with ParseList and returns it in
// canonical form: lower-case names joined by commas, duplicates dropped,
// "none" when it configures no propagator, the default
// (tracecontext,baggage) when it is blank.
func Normalize(s string) (string, error) {
	fs, err := ParseList(s)
	if err != nil {
		return "", err
	}
	if len(fs) == 0 {
		return None, nil
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.String()
	}
	return strings.Join(names, ","), nil
}

func lookupName(s string) (Format, bool) {
	for f := TraceContext; f <= Jaeger; f++ {
		if strings.EqualFold(s, formatNames[f]) {
			return f, true
		}
	}
	return 0, false
}

// Parse returns a Propagator for the OTEL_PROPAGATORS-style list s: it
// injects exactly those formats and extracts them (see WithFormats). Further
// options are applied after the list.
func Parse(s string, opts ...Option) (*Propagator, error) {
	fs, err := ParseList(s)
	if err != nil {
		return nil, err
	}
	return New(append([]Option{WithFormats(fs...)}, opts...)...), nil
}

// FromEnv returns Parse(os.Getenv("OTEL_PROPAGATORS"), opts...), with the
// variable named in any error.
func FromEnv(opts ...Option) (*Propagator, error) {
	p, err := Parse(os.Getenv(conventions.EnvPropagators), opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conventions.EnvPropagators, err)
	}
	return p, nil
}
