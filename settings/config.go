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

package settings

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	cm "knative.dev/pkg/configmap"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/propagation"
)

// ConfigName is kntrace's ConfigMap: the source of truth for what the
// webhook injects and for the tracing settings the controller keeps in
// Knative's ConfigMaps.
const ConfigName = "config-kntrace"

// The keys of ConfigName.
const (
	// CollectorProtocolKey is what Knative's components export with:
	// grpc, http/protobuf or none (config-observability tracing-protocol).
	CollectorProtocolKey = "collector-protocol"
	// CollectorEndpointKey is the collector endpoint for that protocol
	// (config-observability tracing-endpoint): http://host:4317 for grpc,
	// http://host:4318/v1/traces for http/protobuf.
	CollectorEndpointKey = "collector-endpoint"
	// CollectorHTTPEndpointKey is the collector's OTLP/HTTP base URL that
	// applications export to (OTEL_EXPORTER_OTLP_ENDPOINT) when kntrace's
	// queue-proxy and its relay are not installed.
	CollectorHTTPEndpointKey = "collector-http-endpoint"
	// ZipkinEndpointKey is the collector's Zipkin endpoint, for Knative
	// before 1.19 (config-tracing zipkin-endpoint).
	ZipkinEndpointKey = "collector-zipkin-endpoint"
	// SamplingRateKey is the default sampling rate, in [0, 1], for Knative's
	// components and for applications that do not set
	// kntrace.dev/sampling-rate.
	SamplingRateKey = "sampling-rate"
	// PropagatorsKey is the default OTEL_PROPAGATORS for applications that
	// do not set kntrace.dev/propagators.
	PropagatorsKey = "propagators"
	// KntraceQueueProxyKey says whether kntrace's queue-proxy (with its OTLP
	// relay on 127.0.0.1:4318) runs next to every revision.
	KntraceQueueProxyKey = "kntrace-queue-proxy"
	// QueueSidecarImageKey, when set, is written by the controller to
	// knative-serving's config-deployment queue-sidecar-image.
	QueueSidecarImageKey = "queue-sidecar-image"
	// ManageKnativeConfigKey says whether the controller keeps Knative's
	// tracing ConfigMaps in line with this one ("false" when another tool,
	// such as the Knative Operator, owns them).
	ManageKnativeConfigKey = "manage-knative-config"
	// SamplingModeKey says where traces are sampled: SamplingModeHead (at
	// SamplingRateKey, where a trace starts) or SamplingModeTail (every
	// trace at the head, the scale-out gateways' tail_sampling decides).
	SamplingModeKey = "sampling-mode"
	// RelayMaxBytesKey, RelayMaxRequestBytesKey and RelayDrainTimeoutKey are
	// the cluster-wide limits of the OTLP relay in kntrace's queue-proxy; a
	// revision's kntrace.dev/relay-* annotations win over them.
	RelayMaxBytesKey        = "relay-max-bytes"
	RelayMaxRequestBytesKey = "relay-max-request-bytes"
	RelayDrainTimeoutKey    = "relay-drain-timeout"
)

// The values of SamplingModeKey.
const (
	// SamplingModeHead samples at SamplingRateKey where a trace starts: the
	// default, right for one collector.
	SamplingModeHead = "head"
	// SamplingModeTail samples every trace at the head (rate 1) and leaves
	// the decision to the gateways' tail_sampling processor
	// (config/overlays/scale-out), which keeps every cold start, error and
	// slow trace and a ratio of the rest.
	SamplingModeTail = "tail"
)

// The defaults point at the collector config/ installs.
const (
	DefaultCollectorEndpoint     = "http://otel-collector.kntrace-system.svc.cluster.local:4317"
	DefaultCollectorHTTPEndpoint = "http://otel-collector.kntrace-system.svc.cluster.local:4318"
	DefaultZipkinEndpoint        = "http://otel-collector.kntrace-system.svc.cluster.local:9411/api/v2/spans"
	DefaultSamplingRate          = 0.1
	DefaultPropagators           = "tracecontext,baggage"
	DefaultSamplingMode          = SamplingModeHead
)

// RelayLimits are the limits of the OTLP relay in kntrace's queue-proxy.
type RelayLimits struct {
	// MaxBytes bounds the relay's queue of spans.
	MaxBytes int64
	// MaxRequestBytes bounds one export an application sends to the relay.
	MaxRequestBytes int64
	// DrainTimeout bounds the relay's drain when the pod stops.
	DrainTimeout time.Duration
}

// DefaultRelayLimits are the relay's own defaults.
func DefaultRelayLimits() RelayLimits {
	return RelayLimits{
		MaxBytes:        conventions.DefaultRelayMaxBytes,
		MaxRequestBytes: conventions.DefaultRelayMaxRequestBytes,
		DrainTimeout:    conventions.DefaultRelayDrainTimeout,
	}
}

// Config is the parsed ConfigName.
type Config struct {
	CollectorProtocol     string
	CollectorEndpoint     string
	CollectorHTTPEndpoint string
	ZipkinEndpoint        string
	SamplingRate          float64
	// Propagators is normalised: lower case, comma-separated, no blanks.
	Propagators         string
	KntraceQueueProxy   bool
	QueueSidecarImage   string
	ManageKnativeConfig bool
	// SamplingMode is SamplingModeHead or SamplingModeTail.
	SamplingMode string
	// Relay are the cluster-wide relay limits.
	Relay RelayLimits
}

// DefaultConfig is what an empty ConfigName means.
func DefaultConfig() *Config {
	return &Config{
		CollectorProtocol:     conventions.ProtocolGRPC,
		CollectorEndpoint:     DefaultCollectorEndpoint,
		CollectorHTTPEndpoint: DefaultCollectorHTTPEndpoint,
		ZipkinEndpoint:        DefaultZipkinEndpoint,
		SamplingRate:          DefaultSamplingRate,
		Propagators:           DefaultPropagators,
		ManageKnativeConfig:   true,
		SamplingMode:          DefaultSamplingMode,
		Relay:                 DefaultRelayLimits(),
	}
}

// NewConfigFromMap parses the data of ConfigName; every error names its key.
func NewConfigFromMap(data map[string]string) (*Config, error) {
	c := DefaultConfig()
	var propagators string
	if err := cm.Parse(data,
		cm.AsString(CollectorProtocolKey, &c.CollectorProtocol),
		cm.AsString(CollectorEndpointKey, &c.CollectorEndpoint),
		cm.AsString(CollectorHTTPEndpointKey, &c.CollectorHTTPEndpoint),
		cm.AsString(ZipkinEndpointKey, &c.ZipkinEndpoint),
		cm.AsFloat64(SamplingRateKey, &c.SamplingRate),
		cm.AsString(PropagatorsKey, &propagators),
		cm.AsBool(KntraceQueueProxyKey, &c.KntraceQueueProxy),
		cm.AsString(QueueSidecarImageKey, &c.QueueSidecarImage),
		cm.AsBool(ManageKnativeConfigKey, &c.ManageKnativeConfig),
		cm.AsString(SamplingModeKey, &c.SamplingMode),
		asByteSize(RelayMaxBytesKey, &c.Relay.MaxBytes),
		asByteSize(RelayMaxRequestBytesKey, &c.Relay.MaxRequestBytes),
		asDrainTimeout(RelayDrainTimeoutKey, &c.Relay.DrainTimeout),
	); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigName, err)
	}
	if _, ok := data[PropagatorsKey]; ok {
		p, err := propagation.Normalize(propagators)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ConfigName, PropagatorsKey, err)
		}
		c.Propagators = p
	}
	c.CollectorProtocol = strings.TrimSpace(c.CollectorProtocol)
	c.QueueSidecarImage = strings.TrimSpace(c.QueueSidecarImage)
	c.SamplingMode = strings.TrimSpace(c.SamplingMode)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewConfigFromConfigMap parses ConfigName; a nil ConfigMap is the defaults.
func NewConfigFromConfigMap(c *corev1.ConfigMap) (*Config, error) {
	if c == nil {
		return DefaultConfig(), nil
	}
	return NewConfigFromMap(c.Data)
}

// Validate refuses values that would make Knative crash or export nothing;
// each error names the key and what would be accepted.
func (c *Config) Validate() error {
	switch c.CollectorProtocol {
	case conventions.ProtocolGRPC, conventions.ProtocolHTTPProtobuf:
		if err := checkEndpoint(CollectorEndpointKey, c.CollectorEndpoint); err != nil {
			return err
		}
		u, _ := url.Parse(c.CollectorEndpoint)
		if c.CollectorProtocol == conventions.ProtocolGRPC && strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("%s: %s %q: grpc takes no path, e.g. http://otel-collector.kntrace-system.svc.cluster.local:4317", ConfigName, CollectorEndpointKey, c.CollectorEndpoint)
		}
		if c.CollectorProtocol == conventions.ProtocolHTTPProtobuf && strings.Trim(u.Path, "/") == "" {
			return fmt.Errorf("%s: %s %q: http/protobuf needs the full path, e.g. http://otel-collector.kntrace-system.svc.cluster.local:4318/v1/traces", ConfigName, CollectorEndpointKey, c.CollectorEndpoint)
		}
	case conventions.ProtocolNone:
	default:
		return fmt.Errorf("%s: %s %q: want one of grpc, http/protobuf, none", ConfigName, CollectorProtocolKey, c.CollectorProtocol)
	}
	if err := checkEndpoint(CollectorHTTPEndpointKey, c.CollectorHTTPEndpoint); err != nil {
		return err
	}
	if err := checkEndpoint(ZipkinEndpointKey, c.ZipkinEndpoint); err != nil {
		return err
	}
	if !(c.SamplingRate >= 0 && c.SamplingRate <= 1) {
		return fmt.Errorf("%s: %s %v: want a number in [0, 1]", ConfigName, SamplingRateKey, c.SamplingRate)
	}
	switch c.SamplingMode {
	case SamplingModeHead, SamplingModeTail:
	default:
		return fmt.Errorf("%s: %s %q: want %s (sample at %s where a trace starts) or %s (sample every trace, the scale-out gateways decide)",
			ConfigName, SamplingModeKey, c.SamplingMode, SamplingModeHead, SamplingRateKey, SamplingModeTail)
	}
	if c.Relay.MaxRequestBytes > c.Relay.MaxBytes {
		return fmt.Errorf("%s: %s %s is larger than %s %s: want at most the queue's size",
			ConfigName, RelayMaxRequestBytesKey, conventions.FormatByteSize(c.Relay.MaxRequestBytes), RelayMaxBytesKey, conventions.FormatByteSize(c.Relay.MaxBytes))
	}
	return nil
}

// HeadSamplingRate is the rate Knative's components and applications
// sample new traces at: SamplingRate in head mode, 1 in tail mode.
func (c *Config) HeadSamplingRate() float64 {
	if c.SamplingMode == SamplingModeTail {
		return 1
	}
	return c.SamplingRate
}

// asByteSize parses key with conventions.ParseByteSize when it is present
// and not blank (blank is the relay's default).
func asByteSize(key string, target *int64) cm.ParseFunc {
	return func(data map[string]string) error {
		v, ok := data[key]
		if !ok || strings.TrimSpace(v) == "" {
			return nil
		}
		n, err := conventions.ParseByteSize(v)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*target = n
		return nil
	}
}

// asDrainTimeout parses key with conventions.ParseDrainTimeout when it is
// present and not blank.
func asDrainTimeout(key string, target *time.Duration) cm.ParseFunc {
	return func(data map[string]string) error {
		v, ok := data[key]
		if !ok || strings.TrimSpace(v) == "" {
			return nil
		}
		d, err := conventions.ParseDrainTimeout(v)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*target = d
		return nil
	}
}

// checkEndpoint wants an absolute http(s) URL: Knative crash-loops on what
// url.Parse rejects and turns a scheme-less host:port into https.
func checkEndpoint(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %s %q: want an absolute http:// or https:// URL with a host, e.g. %s", ConfigName, key, v, DefaultCollectorHTTPEndpoint)
	}
	return nil
}

// AppEndpoint is the OTEL_EXPORTER_OTLP_ENDPOINT applications get.
func (c *Config) AppEndpoint() string {
	if c.KntraceQueueProxy {
		return conventions.RelayEndpoint
	}
	return c.CollectorHTTPEndpoint
}
