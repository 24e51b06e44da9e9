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

package appsdk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kntrace/kntrace/conventions"
)

// Default endpoints: the queue-proxy's relay (or a collector sidecar) on
// localhost.
const (
	DefaultHTTPEndpoint = "http://localhost:4318"
	DefaultGRPCEndpoint = "http://localhost:4317"
)

func first(env func(string) string, names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(env(n)); v != "" {
			return n, v
		}
	}
	return "", ""
}

// buildExporter makes the OTLP exporter; it never connects. The exporter's
// own retries are off: the buffer retries, without blocking its queue.
func buildExporter(ctx context.Context, env func(string) string) (sdktrace.SpanExporter, error) {
	var errs []error
	protoVar, protocol := first(env, conventions.EnvTracesProtocol, conventions.EnvProtocol)
	switch protocol {
	case "", conventions.ProtocolHTTPProtobuf, conventions.ProtocolGRPC:
	case conventions.ProtocolHTTPJSON:
		errs = append(errs, fmt.Errorf("%s=http/json: the Go OTLP exporter speaks grpc or http/protobuf; using http/protobuf", protoVar))
		protocol = conventions.ProtocolHTTPProtobuf
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want grpc or http/protobuf; using http/protobuf", protoVar, protocol))
		protocol = conventions.ProtocolHTTPProtobuf
	}
	if protocol == "" {
		protocol = conventions.ProtocolHTTPProtobuf
	}
	endpoint := env(conventions.EnvTracesEndpoint)
	signalSpecific := endpoint != ""
	if !signalSpecific {
		endpoint = env(conventions.EnvEndpoint)
	}
	if endpoint == "" {
		endpoint = DefaultHTTPEndpoint
		if protocol == conventions.ProtocolGRPC {
			endpoint = DefaultGRPCEndpoint
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("OTLP endpoint %q: want a URL such as http://collector:4318; using the default", endpoint))
		u, _ = url.Parse(DefaultHTTPEndpoint)
		if protocol == conventions.ProtocolGRPC {
			u, _ = url.Parse(DefaultGRPCEndpoint)
		}
		signalSpecific = false
	}
	hVar, hv := first(env, conventions.EnvTracesHeaders, conventions.EnvHeaders)
	kvs, err := parseKeyValues(hv)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", hVar, err))
	}
	headers := map[string]string{}
	for _, kv := range kvs {
		headers[kv.Key] = kv.Value
	}
	_, compression := first(env, conventions.EnvTracesCompression, conventions.EnvCompression)
	gzipOn := strings.EqualFold(compression, "gzip")

	if protocol == conventions.ProtocolGRPC {
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(u.Host),
			otlptracegrpc.WithHeaders(headers),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
		}
		if u.Scheme == "http" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if gzipOn {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		return exp, errors.Join(append(errs, err)...)
	}
	path := u.Path
	if !signalSpecific {
		path = strings.TrimSuffix(path, "/") + "/v1/traces"
	}
	if path == "" {
		path = "/"
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(u.Host),
		otlptracehttp.WithURLPath(path),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if gzipOn {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	return exp, errors.Join(append(errs, err)...)
}
