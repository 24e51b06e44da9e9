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
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Severity says whether a Problem blocks a write.
type Severity string

const (
	// SeverityError blocks a write: the result would crash a component or
	// silently export nothing.
	SeverityError Severity = "error"
	// SeverityWarning is reported but does not block.
	SeverityWarning Severity = "warning"
)

// Problem is one finding about a tracing ConfigMap, naming the key and the fix.
type Problem struct {
	Namespace string   `json:"namespace"`
	ConfigMap string   `json:"configMap"`
	Key       string   `json:"key,omitempty"`
	Value     string   `json:"value,omitempty"`
	Severity  Severity `json:"severity"`
	Message   string   `json:"message"`
	Fix       string   `json:"fix,omitempty"`
}

func (p Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s", p.Namespace, p.ConfigMap)
	if p.Key != "" {
		fmt.Fprintf(&b, ": %s", p.Key)
		if p.Value != "" {
			fmt.Fprintf(&b, " %q", p.Value)
		}
	}
	fmt.Fprintf(&b, ": %s", p.Message)
	if p.Fix != "" {
		fmt.Fprintf(&b, "; fix: %s", p.Fix)
	}
	return b.String()
}

// CheckOptions relax checks a user may knowingly override.
type CheckOptions struct {
	// AllowZeroSampling accepts an exporting protocol with sampling rate 0.
	AllowZeroSampling bool
}

// Errors returns the problems of severity error.
func Errors(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// Check validates the tracing keys of data, a ConfigMap of the given shape in
// namespace, the way Knative would and then for the hazards Knative lets
// through. labels are the ConfigMap's labels (nil skips the label check).
func Check(shape Shape, namespace string, data, labels map[string]string, opts CheckOptions) []Problem {
	c := checker{ns: namespace, cm: shape.ConfigName()}
	if shape == ShapeLegacy {
		c.legacy(data, opts)
	} else {
		c.observability(data, opts)
	}
	if labels != nil {
		for k, v := range webhookLabels(namespace, shape) {
			if labels[k] != v {
				c.add(SeverityWarning, "", "", fmt.Sprintf("label %s=%s is missing, so Knative's configmap webhook does not validate this ConfigMap", k, v),
					"kntrace restores the label on its next write")
			}
		}
	}
	return c.problems
}

type checker struct {
	ns, cm   string
	problems []Problem
}

func (c *checker) add(sev Severity, key, value, msg, fix string) {
	c.problems = append(c.problems, Problem{Namespace: c.ns, ConfigMap: c.cm, Key: key, Value: value, Severity: sev, Message: msg, Fix: fix})
}

func (c *checker) observability(data map[string]string, opts CheckOptions) {
	for _, k := range ShapeLegacy.TracingKeys() {
		if v, ok := data[k]; ok {
			c.add(SeverityWarning, k, v, "is a legacy config-tracing key; Knative 1.19+ ignores it in config-observability",
				fmt.Sprintf("use %s, %s and %s (kn trace config migrate converts them)", ProtocolKey, EndpointKey, SamplingRateKey))
		}
	}
	t, err := NewTracingFromMap(data)
	if err != nil {
		key, val := observabilityKeyOf(err, data)
		c.add(SeverityError, key, val, "Knative rejects it: "+err.Error(), observabilityFix(key))
		return
	}
	if math.IsNaN(t.SamplingRate) {
		c.add(SeverityError, SamplingRateKey, data[SamplingRateKey], "is not a number", "set a value in [0, 1], e.g. 0.1")
		return
	}
	if t.Protocol != ProtocolGRPC && t.Protocol != ProtocolHTTPProtobuf {
		return
	}
	c.endpoint(EndpointKey, t.Endpoint, t.Protocol)
	if t.SamplingRate == 0 && !opts.AllowZeroSampling {
		msg := "is 0: protocol " + t.Protocol + " is set but no trace is ever sampled"
		if !t.SamplingRateSet {
			msg = "is not set, so Knative uses 0: protocol " + t.Protocol + " is set but no trace is ever sampled"
		}
		c.add(SeverityError, SamplingRateKey, data[SamplingRateKey], msg,
			"set a rate in (0, 1], e.g. --sampling-rate 0.1; pass --allow-zero-sampling if exporting nothing is intended")
	}
}

// endpoint checks an exporter endpoint the way Knative's start-up uses it:
// url.Parse, and "https://" prefixed to anything that parses as opaque.
func (c *checker) endpoint(key, endpoint, protocol string) {
	u, err := url.Parse(endpoint)
	if err != nil {
		c.add(SeverityError, key, endpoint,
			"passes Knative's validation but url.Parse rejects it, so every Knative component fails at start-up and crash-loops ("+err.Error()+")",
			"write it as a URL with a scheme, e.g. "+suggestURL(endpoint, protocol))
		return
	}
	if u.Opaque != "" || u.Scheme == "" || u.Host == "" {
		c.add(SeverityError, key, endpoint,
			"has no scheme, so Knative silently exports to https://"+endpoint+" (TLS)",
			"write the scheme explicitly: "+suggestURL(endpoint, protocol)+" for a plaintext collector, or https://… for TLS")
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		c.add(SeverityError, key, endpoint, "has scheme "+u.Scheme+": the OTLP exporter accepts only http and https",
			"use "+suggestURL(u.Host, protocol))
		return
	}
	hasPath := u.Path != "" && u.Path != "/"
	switch {
	case protocol == ProtocolGRPC && hasPath:
		c.add(SeverityError, key, endpoint,
			"has the HTTP path "+u.Path+", but protocol grpc ignores paths: this looks like an OTLP/HTTP endpoint (usually port 4318) given to a gRPC exporter",
			"use "+u.Scheme+"://"+u.Host+" with protocol grpc (port 4317), or protocol http/protobuf with this URL")
	case protocol == ProtocolHTTPProtobuf && !hasPath:
		c.add(SeverityError, key, endpoint,
			"has no path, but protocol http/protobuf posts to the URL exactly as given, so the collector answers 404",
			"add the OTLP traces path: "+strings.TrimSuffix(endpoint, "/")+"/v1/traces")
	}
}

func (c *checker) legacy(data map[string]string, opts CheckOptions) {
	lt, err := NewLegacyTracingFromMap(data)
	if err != nil {
		key, _, _ := strings.Cut(err.Error(), ":")
		c.add(SeverityError, key, data[key], "Knative rejects it: "+err.Error(), "")
		return
	}
	if math.IsNaN(lt.SampleRate) {
		c.add(SeverityError, SampleRateKey, data[SampleRateKey], "is not a number", "set a value in [0, 1], e.g. 0.1")
		return
	}
	if lt.Backend != BackendZipkin {
		return
	}
	u, err := url.Parse(lt.ZipkinEndpoint)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		c.add(SeverityError, ZipkinEndpointKey, lt.ZipkinEndpoint, "is not an absolute URL, so the Zipkin reporter cannot post spans",
			"write it as http://HOST:9411/api/v2/spans")
		return
	}
	if lt.SampleRate == 0 && !lt.Debug && !opts.AllowZeroSampling {
		c.add(SeverityError, SampleRateKey, data[SampleRateKey], "is 0: backend zipkin is set but no trace is ever sampled",
			"set a rate in (0, 1], e.g. --sampling-rate 0.1; pass --allow-zero-sampling if exporting nothing is intended")
	}
}

// observabilityKeyOf maps one of knative.dev/pkg's error messages, which do
// not always name the key, back to the key at fault.
func observabilityKeyOf(err error, data map[string]string) (string, string) {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "sampling"):
		return SamplingRateKey, data[SamplingRateKey]
	case strings.Contains(msg, "endpoint"):
		return EndpointKey, data[EndpointKey]
	case strings.Contains(msg, "protocol"):
		return ProtocolKey, data[ProtocolKey]
	}
	for _, k := range ShapeObservability.TracingKeys() {
		if strings.Contains(msg, k) {
			return k, data[k]
		}
	}
	return "", ""
}

func observabilityFix(key string) string {
	switch key {
	case ProtocolKey:
		return "use one of grpc, http/protobuf, none, stdout"
	case EndpointKey:
		return "set tracing-endpoint with protocol grpc or http/protobuf; remove it with none or stdout"
	case SamplingRateKey:
		return "set a number in [0, 1], e.g. 0.1"
	}
	return ""
}

// suggestURL turns host[:port][/path] into a URL for the protocol's usual
// plaintext form.
func suggestURL(endpoint, protocol string) string {
	hostport, path, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://"), "/")
	if protocol == ProtocolHTTPProtobuf {
		if path == "" {
			path = "v1/traces"
		}
		return "http://" + hostport + "/" + path
	}
	return "http://" + hostport
}

// formatRate writes a rate the way a person would (0.1, 1).
func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }
