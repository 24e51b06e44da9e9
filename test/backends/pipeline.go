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

package backends

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/proc"
)

// The scale-out install's manifests (scale-out/ at the repository root) and
// the ConfigMaps in them that hold the configurations the processes run.
const (
	AgentManifest   = "scale-out/otel-agent.yaml"
	GatewayManifest = "scale-out/otel-gateway.yaml"
	JaegerPatch     = "scale-out/jaeger-badger.patch"

	AgentConfigMap   = conventions.AgentName + "-config"
	GatewayConfigMap = conventions.GatewayName + "-config"
	JaegerConfigMap  = conventions.JaegerService + "-config"
	CollectorKey     = conventions.CollectorConfigKey
	JaegerKey        = conventions.JaegerConfigKey
)

// ShippedConfig returns data[key] of the ConfigMap called name in the
// manifest (or strategic-merge patch) file at path.
func ShippedConfig(path, name, key string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var obj struct {
			Kind     string                `json:"kind"`
			Metadata struct{ Name string } `json:"metadata"`
			Data     map[string]string     `json:"data"`
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if obj.Kind == "ConfigMap" && obj.Metadata.Name == name {
			v, ok := obj.Data[key]
			if !ok {
				return nil, fmt.Errorf("%s: ConfigMap %s has no key %s", path, name, key)
			}
			return []byte(v), nil
		}
	}
	return nil, fmt.Errorf("%s: no ConfigMap %s", path, name)
}

// Edit changes one value of a shipped configuration: Path is the keys from
// the top ("processors", "tail_sampling", "decision_wait"), a number
// indexing a list ("policies", "3"); a nil Value deletes the key.
type Edit struct {
	Path  []string
	Value any
}

// Set is an Edit from a dotted path; component names hold no dots.
func Set(path string, v any) Edit { return Edit{Path: strings.Split(path, "."), Value: v} }

// Delete is an Edit that removes the key at the dotted path.
func Delete(path string) Edit { return Edit{Path: strings.Split(path, ".")} }

func (e Edit) apply(root map[string]any) error {
	var cur any = root
	for i, k := range e.Path {
		last := i == len(e.Path)-1
		where := strings.Join(e.Path[:i+1], ".")
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if e.Value == nil {
					delete(c, k)
				} else {
					c[k] = e.Value
				}
				return nil
			}
			next, ok := c[k]
			if !ok || next == nil {
				if e.Value == nil {
					return nil // nothing to delete
				}
				next = map[string]any{}
				c[k] = next
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(c) {
				return fmt.Errorf("%s: no element %q in a list of %d", where, k, len(c))
			}
			if last {
				if e.Value == nil {
					return fmt.Errorf("%s: deleting a list element is not supported", where)
				}
				c[n] = e.Value
				return nil
			}
			cur = c[n]
		default:
			return fmt.Errorf("%s is not a map", strings.Join(e.Path[:i], "."))
		}
	}
	return nil
}

// WithEdits applies edits to a shipped configuration after the ones the
// harness makes (addresses, directories), so a test can change a policy,
// a wait or a limit.
func WithEdits(edits ...Edit) Option {
	return optionFunc(func(c *config) { c.edits = append(c.edits, edits...) })
}

// WithStorageDir sets where file_storage (the persistent queues) or
// Badger keep their files (default: a "storage" directory in the log
// directory). A collector or Jaeger started again on the same directory
// resumes what it held.
func WithStorageDir(dir string) Option { return optionFunc(func(c *config) { c.storageDir = dir }) }

// WithEnv adds KEY=VALUE pairs to the processes' environment (GOMEMLIMIT,
// as a container would set it).
func WithEnv(kv ...string) Option {
	return optionFunc(func(c *config) { c.env = append(c.env, kv...) })
}

// editConfig parses a shipped YAML configuration, applies edits and writes
// the result to path.
func editConfig(path string, shipped []byte, edits []Edit) error {
	var root map[string]any
	if err := yaml.Unmarshal(shipped, &root); err != nil {
		return fmt.Errorf("shipped configuration: %w", err)
	}
	for _, e := range edits {
		if err := e.apply(root); err != nil {
			return fmt.Errorf("edit %s: %w", strings.Join(e.Path, "."), err)
		}
	}
	b, err := yaml.Marshal(root)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// NewShippedCollector prepares a collector from a shipped configuration
// (the single collector of config/600-otel-collector.yaml, or a scale-out
// tier: see NewGateway and NewAgent) without starting it. Every receiver,
// health_check and the collector's own metrics move to free loopback ports,
// file_storage to the storage directory (WithStorageDir), and every OTLP
// exporter sends to exportTo (host:port of an OTLP gRPC receiver, normally
// Jaeger's; "" leaves them as shipped). WithEdits applies after these.
func NewShippedCollector(name string, shipped []byte, exportTo string, opts ...Option) (*Collector, error) {
	c, edits, err := shippedCollector(name, shipped, exportTo, opts)
	if err != nil {
		return nil, err
	}
	if err := editConfig(c.ConfigPath, shipped, append(edits, c.cfg.edits...)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func shippedCollector(name string, shipped []byte, exportTo string, opts []Option) (*Collector, []Edit, error) {
	cfg, err := newConfig(binaries.Collector, DefaultCollectorReadyTimeout, opts)
	if err != nil {
		return nil, nil, err
	}
	var parts struct {
		Receivers struct {
			OTLP *struct {
				Protocols map[string]any `json:"protocols"`
			} `json:"otlp"`
			Zipkin any `json:"zipkin"`
		} `json:"receivers"`
		Exporters  map[string]any `json:"exporters"`
		Extensions map[string]any `json:"extensions"`
	}
	if err := yaml.Unmarshal(shipped, &parts); err != nil {
		return nil, nil, fmt.Errorf("%s: shipped configuration: %w", name, err)
	}
	if parts.Receivers.OTLP == nil || parts.Receivers.OTLP.Protocols["grpc"] == nil {
		return nil, nil, fmt.Errorf("%s: the shipped configuration has no OTLP gRPC receiver", name)
	}
	ports, err := proc.FreePorts(5)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: free ports: %w", name, err)
	}
	c := &Collector{name: name, GRPC: addr(ports[0]), Metrics: addr(ports[3]), ExportTo: exportTo}
	c.ConfigPath = filepath.Join(cfg.logDir, name+".yaml")
	edits := []Edit{
		Set("receivers.otlp.protocols.grpc.endpoint", c.GRPC),
		Set("service.telemetry.metrics.level", "normal"),
		Set("service.telemetry.metrics.readers", []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
			"prometheus": map[string]any{"host": "127.0.0.1", "port": ports[3]}}}}}),
		Set("service.telemetry.logs.level", cfg.logLevel),
	}
	if parts.Receivers.OTLP.Protocols["http"] != nil {
		c.HTTP = addr(ports[1])
		edits = append(edits, Set("receivers.otlp.protocols.http.endpoint", c.HTTP))
	}
	if parts.Receivers.Zipkin != nil {
		edits = append(edits, Set("receivers.zipkin.endpoint", addr(ports[4])))
	}
	if _, ok := parts.Extensions["health_check"]; ok {
		c.Health = addr(ports[2])
		edits = append(edits, Set("extensions.health_check.endpoint", c.Health))
	}
	if _, ok := parts.Extensions["file_storage"]; ok {
		if cfg.storageDir == "" {
			cfg.storageDir = filepath.Join(cfg.logDir, name+"-storage")
		}
		if err := os.MkdirAll(cfg.storageDir, 0o755); err != nil {
			return nil, nil, err
		}
		c.StorageDir = cfg.storageDir
		edits = append(edits, Set("extensions.file_storage.directory", c.StorageDir), Set("extensions.file_storage.compaction.directory", c.StorageDir))
	}
	if exportTo != "" {
		for id := range parts.Exporters {
			if typ, _, _ := strings.Cut(id, "/"); typ == "otlp" || typ == "otlp_grpc" {
				edits = append(edits, Edit{Path: []string{"exporters", id, "endpoint"}, Value: exportTo})
			}
		}
	}
	c.cfg = cfg
	return c, edits, nil
}

// NewGateway prepares a gateway of the scale-out install from its shipped
// configuration (ShippedConfig(GatewayManifest, GatewayConfigMap,
// CollectorKey)), on loopback ports, exporting to exportTo (host:port of an
// OTLP gRPC receiver, normally Jaeger's). It does not start it.
func NewGateway(name string, shipped []byte, exportTo string, opts ...Option) (*Collector, error) {
	return NewShippedCollector(name, shipped, exportTo, opts...)
}

// NewAgent prepares an agent of the scale-out install from its shipped
// configuration (ShippedConfig(AgentManifest, AgentConfigMap,
// CollectorKey)). Its load_balancing exporter routes by trace ID, as
// shipped, over the gateways given as host:port with the static resolver:
// the shipped Kubernetes resolver needs a cluster, and both feed the same
// consistent-hash ring. It does not start it.
func NewAgent(name string, shipped []byte, gateways []string, opts ...Option) (*Collector, error) {
	if len(gateways) == 0 {
		return nil, errors.New("agent: no gateways: want the host:port of at least one")
	}
	c, edits, err := shippedCollector(name, shipped, "", opts)
	if err != nil {
		return nil, err
	}
	hosts := make([]any, len(gateways))
	for i, g := range gateways {
		hosts[i] = g
	}
	edits = append(edits, Set("exporters.load_balancing.resolver", map[string]any{"static": map[string]any{"hostnames": hosts}}))
	if err := editConfig(c.ConfigPath, shipped, append(edits, c.cfg.edits...)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// Sample is one line of a Prometheus text exposition.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples are a scrape of a collector's own metrics.
type Samples []Sample

// Sum adds the values of the samples called name whose labels include
// every key=value pair of match.
func (s Samples) Sum(name string, match ...string) float64 {
	var total float64
next:
	for _, x := range s {
		if x.Name != name {
			continue
		}
		for i := 0; i+1 < len(match); i += 2 {
			if x.Labels[match[i]] != match[i+1] {
				continue next
			}
		}
		total += x.Value
	}
	return total
}

// Scrape reads the collector's own metrics (service.telemetry, served on
// Metrics).
func (c *Collector) Scrape(ctx context.Context) (Samples, error) {
	if c.Metrics == "" {
		return nil, fmt.Errorf("%s serves no metrics", c.name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Metrics+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", c.Metrics, resp.Status)
	}
	return ParseSamples(resp.Body)
}

// ParseSamples reads the Prometheus text format: comments and blank lines
// are skipped, every other line is name{label="value",...} value
// [timestamp].
func ParseSamples(r io.Reader) (Samples, error) {
	var out Samples
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := Sample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			s.Name = line[:i]
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %d: unterminated labels", n)
			}
			if err := parseLabels(line[i+1:j], s.Labels); err != nil {
				return nil, fmt.Errorf("metrics line %d: %w", n, err)
			}
			rest = line[j+1:]
		} else if i >= 0 {
			s.Name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if s.Name == "" || len(fields) == 0 {
			return nil, fmt.Errorf("metrics line %d: want name and value", n)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: value %q: %w", n, fields[0], err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseLabels(s string, into map[string]string) error {
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return fmt.Errorf("label %q: want name=\"value\"", s)
		}
		name := strings.TrimSpace(s[:eq])
		var v strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i])
				}
				continue
			}
			v.WriteByte(s[i])
		}
		if i >= len(s) {
			return fmt.Errorf("label %s: unterminated value", name)
		}
		into[name] = v.String()
		s = strings.TrimPrefix(strings.TrimSpace(s[i+1:]), ",")
	}
	return nil
}
