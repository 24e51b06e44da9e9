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
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
)

func buildResource(env func(string) string, cfg config) (*resource.Resource, error) {
	var errs []error
	attrs := []attribute.KeyValue{
		semconv.TelemetrySDKName("opentelemetry"),
		semconv.TelemetrySDKLanguageGo,
		semconv.TelemetrySDKVersion(sdk.Version()),
	}
	attrs = append(attrs, coldstart.KnativeAttributes(env)...)
	attrs = append(attrs, cfg.attrs...)
	fromEnv, err := parseKeyValues(env(conventions.EnvResourceAttributes))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", conventions.EnvResourceAttributes, err))
	}
	serviceName := ""
	for _, kv := range fromEnv {
		if kv.Key == "service.name" {
			serviceName = kv.Value
		}
		attrs = append(attrs, attribute.String(kv.Key, kv.Value))
	}
	if v := env(conventions.EnvServiceName); v != "" {
		serviceName = v
	}
	if serviceName == "" {
		serviceName = cfg.serviceName
	}
	if serviceName == "" {
		serviceName = env("K_SERVICE")
	}
	if serviceName == "" {
		serviceName = "unknown_service:" + filepath.Base(os.Args[0])
	}
	attrs = append(attrs, semconv.ServiceName(serviceName))
	// Later attributes win over earlier ones with the same key.
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...), errors.Join(errs...)
}

type keyValue struct{ Key, Value string }

// parseKeyValues parses "k1=v1,k2=v2" with percent-encoded values, as
// OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS are written.
func parseKeyValues(s string) ([]keyValue, error) {
	var out []keyValue
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return out, fmt.Errorf("%q is not key=value", part)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return out, fmt.Errorf("%q: bad percent-encoding: %v", part, err)
		}
		out = append(out, keyValue{k, dv})
	}
	return out, nil
}
