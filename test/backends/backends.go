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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/proc"
)

// Default readiness timeouts.
const (
	DefaultJaegerReadyTimeout    = 60 * time.Second
	DefaultCollectorReadyTimeout = 30 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL (Jaeger
	// can take 10-20 s to exit on SIGTERM).
	stopGrace = 5 * time.Second
)

type config struct {
	logDir       string
	binary       string
	readyTimeout time.Duration
	logLevel     string
	storageDir   string
	edits        []Edit
	env          []string
	jaegerConfig []byte
	batchTimeout time.Duration
}

// Option configures StartJaeger, NewCollector and StartStack.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogDir puts configs and process logs in dir (default: a new temporary
// directory per component, kept after Stop for inspection).
func WithLogDir(dir string) Option { return optionFunc(func(c *config) { c.logDir = dir }) }

// WithBinary overrides the binary (default: binaries.Path of "jaeger" or
// "otelcol"). Ignored by StartStack.
func WithBinary(path string) Option { return optionFunc(func(c *config) { c.binary = path }) }

// WithReadyTimeout bounds the wait for readiness.
func WithReadyTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.readyTimeout = d })
}

// WithLogLevel sets the components' log level (default "info").
func WithLogLevel(level string) Option { return optionFunc(func(c *config) { c.logLevel = level }) }

// DefaultBatchTimeout is how long the in-memory Jaeger's and the Collector's
// batch processors hold spans before they pass them on.
const DefaultBatchTimeout = 100 * time.Millisecond

// WithBatchTimeout sets how long the in-memory Jaeger's and the Collector's
// batch processors hold spans (default DefaultBatchTimeout); 0 passes each
// export on as it comes, so the backends' work on it is done while its
// sender is still being measured. It does not apply to a shipped
// configuration (WithJaegerConfig) or the scale-out collectors.
func WithBatchTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.batchTimeout = d })
}

func newConfig(name string, readyTimeout time.Duration, opts []Option) (config, error) {
	cfg := config{readyTimeout: readyTimeout, logLevel: "info", batchTimeout: DefaultBatchTimeout}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.batchTimeout < 0 {
		return cfg, fmt.Errorf("%s: batch timeout %s: want 0 (each export passed on as it comes) or more", name, cfg.batchTimeout)
	}
	if cfg.binary == "" {
		p, err := binaries.Path(name)
		if err != nil {
			return cfg, err
		}
		cfg.binary = p
	}
	if cfg.logDir == "" {
		d, err := os.MkdirTemp("", "kntrace-"+name+"-")
		if err != nil {
			return cfg, err
		}
		cfg.logDir = d
	} else if err := os.MkdirAll(cfg.logDir, 0o755); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// WithJaegerConfig runs Jaeger with a shipped configuration (such as
// ShippedConfig(JaegerPatch, JaegerConfigMap, JaegerKey), Badger) instead of
// the in-memory one: its listeners move to loopback ports and its Badger
// directories under the storage directory (WithStorageDir), so a Jaeger
// started again on the same directory has every trace it stored.
func WithJaegerConfig(shipped []byte) Option {
	return optionFunc(func(c *config) { c.jaegerConfig = shipped })
}

// Jaeger is a Jaeger v2 (all-in-one; in-memory storage unless
// WithJaegerConfig). All addresses are host:port on 127.0.0.1 and stay the
// same across Start, Kill and Start.
type Jaeger struct {
	// QueryGRPC serves jaeger-idl api_v2 QueryService (use package jaeger).
	QueryGRPC string
	// QueryHTTP serves Jaeger's HTTP API (/api/traces, /api/services).
	QueryHTTP string
	// OTLPGRPC and OTLPHTTP receive OTLP.
	OTLPGRPC string
	OTLPHTTP string
	// Health serves healthcheckv2's /status.
	Health string
	// ConfigPath is the generated configuration.
	ConfigPath string
	// StorageDir holds Badger's files with WithJaegerConfig.
	StorageDir string

	cfg  config
	mu   sync.Mutex
	proc *proc.Process
	runs int
}

// NewJaeger reserves free loopback ports and writes the configuration; it
// does not start Jaeger.
func NewJaeger(opts ...Option) (*Jaeger, error) {
	cfg, err := newConfig(binaries.Jaeger, DefaultJaegerReadyTimeout, opts)
	if err != nil {
		return nil, err
	}
	ports, err := proc.FreePorts(5)
	if err != nil {
		return nil, fmt.Errorf("jaeger: free ports: %w", err)
	}
	j := &Jaeger{
		QueryGRPC: addr(ports[0]),
		QueryHTTP: addr(ports[1]),
		OTLPGRPC:  addr(ports[2]),
		OTLPHTTP:  addr(ports[3]),
		Health:    addr(ports[4]),
		cfg:       cfg,
	}
	j.ConfigPath = filepath.Join(cfg.logDir, "jaeger.yaml")
	if cfg.jaegerConfig == nil {
		if err := render(j.ConfigPath, jaegerConfig, map[string]any{"J": j, "LogLevel": cfg.logLevel, "BatchTimeout": cfg.batchTimeout}); err != nil {
			return nil, err
		}
		return j, nil
	}
	j.StorageDir = cfg.storageDir
	if j.StorageDir == "" {
		j.StorageDir = filepath.Join(cfg.logDir, "jaeger-storage")
	}
	edits, err := jaegerEdits(cfg.jaegerConfig, j)
	if err != nil {
		return nil, err
	}
	if err := editConfig(j.ConfigPath, cfg.jaegerConfig, append(edits, cfg.edits...)); err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	return j, nil
}

// jaegerEdits move a shipped Jaeger configuration's listeners to j's ports
// and every Badger backend's directories under j.StorageDir.
func jaegerEdits(shipped []byte, j *Jaeger) ([]Edit, error) {
	var root struct {
		Extensions struct {
			Storage struct {
				Backends map[string]map[string]any `json:"backends"`
			} `json:"jaeger_storage"`
		} `json:"extensions"`
	}
	if err := yaml.Unmarshal(shipped, &root); err != nil {
		return nil, fmt.Errorf("jaeger: shipped configuration: %w", err)
	}
	edits := []Edit{
		Set("receivers.otlp.protocols.grpc.endpoint", j.OTLPGRPC),
		Set("receivers.otlp.protocols.http.endpoint", j.OTLPHTTP),
		Set("extensions.jaeger_query.grpc.endpoint", j.QueryGRPC),
		Set("extensions.jaeger_query.http.endpoint", j.QueryHTTP),
		Set("extensions.healthcheckv2.http.endpoint", j.Health),
		Set("service.telemetry.logs.level", j.cfg.logLevel),
	}
	for name, b := range root.Extensions.Storage.Backends {
		if _, ok := b["badger"]; !ok {
			continue
		}
		for _, d := range []string{"keys", "values"} {
			dir := filepath.Join(j.StorageDir, name, d)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			edits = append(edits, Edit{Path: []string{"extensions", "jaeger_storage", "backends", name, "badger", "directories", d}, Value: dir})
		}
	}
	return edits, nil
}

// StartJaeger is NewJaeger followed by Start.
func StartJaeger(ctx context.Context, opts ...Option) (*Jaeger, error) {
	j, err := NewJaeger(opts...)
	if err != nil {
		return nil, err
	}
	if err := j.Start(ctx); err != nil {
		return nil, err
	}
	return j, nil
}

// Start starts Jaeger (a no-op if it is running) and waits until its query
// API and OTLP receivers answer, bounded by ctx and the ready timeout.
func (j *Jaeger) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.proc != nil {
		if exited, _ := j.proc.Exited(); !exited {
			return nil
		}
	}
	j.runs++
	name := "jaeger"
	if j.runs > 1 {
		name = "jaeger-" + strconv.Itoa(j.runs)
	}
	p, err := proc.Start(name, j.cfg.binary, []string{"--config", j.ConfigPath},
		proc.WithLogDir(j.cfg.logDir), proc.WithGrace(stopGrace), proc.WithEnv(j.cfg.env...))
	if err != nil {
		return err
	}
	j.proc = p
	if err := waitReady(ctx, p, j.cfg.readyTimeout, "Jaeger ready (healthcheckv2, query gRPC and OTLP listening)",
		proc.HTTPReady(nil, "http://"+j.Health+"/status"),
		proc.TCPReady(j.QueryGRPC), proc.TCPReady(j.OTLPGRPC), proc.TCPReady(j.OTLPHTTP)); err != nil {
		p.Kill()
		return err
	}
	return nil
}

// Stop stops Jaeger (SIGTERM, then SIGKILL after a bounded grace); it can
// be started again with Start.
func (j *Jaeger) Stop() {
	if p := j.process(); p != nil {
		p.Stop()
	}
}

// Kill stops Jaeger at once with SIGKILL (a crash).
func (j *Jaeger) Kill() {
	if p := j.process(); p != nil {
		p.Kill()
	}
}

func (j *Jaeger) process() *proc.Process {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.proc
}

// Usage is the running Jaeger's CPU time and memory so far.
func (j *Jaeger) Usage() (proc.Usage, error) {
	p := j.process()
	if p == nil {
		return proc.Usage{}, errors.New("jaeger is not running")
	}
	return p.Usage()
}

// LogPath is the log file of Jaeger's latest run.
func (j *Jaeger) LogPath() string { return j.process().LogPath }

// Collector is an OpenTelemetry Collector with OTLP gRPC and HTTP receivers,
// memory_limiter and batch processors, and an OTLP gRPC exporter to a given
// endpoint (normally Jaeger's OTLP gRPC receiver). Its ports are fixed at
// NewCollector, so it can be started, stopped and started again at the same
// addresses.
type Collector struct {
	// GRPC and HTTP are the OTLP receivers' host:port (HTTP is empty for a
	// gateway, which takes gRPC only).
	GRPC string
	HTTP string
	// Health (health_check) and Metrics (the collector's own Prometheus
	// metrics, see Scrape) are set for the scale-out collectors
	// (NewAgent, NewGateway).
	Health  string
	Metrics string
	// ExportTo is the OTLP gRPC host:port the collector exports to.
	ExportTo string
	// ConfigPath is the generated configuration.
	ConfigPath string
	// StorageDir holds file_storage's files (the persistent queues) of the
	// scale-out collectors.
	StorageDir string

	name string
	cfg  config
	mu   sync.Mutex
	proc *proc.Process
	runs int
}

// NewCollector reserves free loopback ports and writes the configuration; it
// does not start the Collector.
func NewCollector(exportTo string, opts ...Option) (*Collector, error) {
	if exportTo == "" {
		return nil, errors.New("collector: empty export endpoint: want host:port of an OTLP gRPC receiver")
	}
	cfg, err := newConfig(binaries.Collector, DefaultCollectorReadyTimeout, opts)
	if err != nil {
		return nil, err
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return nil, fmt.Errorf("collector: free ports: %w", err)
	}
	c := &Collector{name: "otelcol", GRPC: addr(ports[0]), HTTP: addr(ports[1]), ExportTo: exportTo, cfg: cfg}
	c.ConfigPath = filepath.Join(cfg.logDir, "otelcol.yaml")
	if err := render(c.ConfigPath, collectorConfig, map[string]any{"C": c, "LogLevel": cfg.logLevel, "BatchTimeout": cfg.batchTimeout}); err != nil {
		return nil, err
	}
	return c, nil
}

// StartCollector is NewCollector followed by Start.
func StartCollector(ctx context.Context, exportTo string, opts ...Option) (*Collector, error) {
	c, err := NewCollector(exportTo, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// HTTPEndpoint is the OTLP/HTTP traces URL (http://host:port/v1/traces).
func (c *Collector) HTTPEndpoint() string { return "http://" + c.HTTP + "/v1/traces" }

// GRPCEndpoint is the OTLP/gRPC endpoint URL (http://host:port).
func (c *Collector) GRPCEndpoint() string { return "http://" + c.GRPC }

// Start starts the Collector (a no-op if it is running) and waits until its
// OTLP/HTTP receiver accepts an empty export, bounded by ctx and the ready
// timeout.
func (c *Collector) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		if exited, _ := c.proc.Exited(); !exited {
			return nil
		}
	}
	c.runs++
	name := c.name
	if c.runs > 1 {
		name += "-" + strconv.Itoa(c.runs)
	}
	p, err := proc.Start(name, c.cfg.binary, []string{"--config", "file:" + c.ConfigPath},
		proc.WithLogDir(c.cfg.logDir), proc.WithGrace(stopGrace), proc.WithEnv(c.cfg.env...))
	if err != nil {
		return err
	}
	c.proc = p
	what, checks := "Collector ready (OTLP/HTTP accepts an export, OTLP/gRPC listening)",
		[]func(context.Context) error{otlpHTTPReady(c.HTTPEndpoint()), proc.TCPReady(c.GRPC)}
	if c.Health != "" {
		what, checks = c.name+" ready (health_check answers, OTLP/gRPC listening)",
			[]func(context.Context) error{proc.HTTPReady(nil, "http://"+c.Health+"/"), proc.TCPReady(c.GRPC)}
		if c.HTTP != "" {
			checks = append(checks, proc.TCPReady(c.HTTP))
		}
	}
	if err := waitReady(ctx, p, c.cfg.readyTimeout, what, checks...); err != nil {
		p.Kill()
		return err
	}
	return nil
}

// Usage is the running collector's CPU time and memory so far.
func (c *Collector) Usage() (proc.Usage, error) {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil {
		return proc.Usage{}, fmt.Errorf("%s is not running", c.name)
	}
	return p.Usage()
}

// Stop stops the Collector (SIGTERM, bounded grace, SIGKILL); it can be
// started again with Start.
func (c *Collector) Stop() {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Kill stops the Collector at once with SIGKILL (a crash).
func (c *Collector) Kill() {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Running reports whether the Collector process is alive.
func (c *Collector) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return false
	}
	exited, _ := c.proc.Exited()
	return !exited
}

// LogPath is the log file of the latest run ("" before the first Start).
func (c *Collector) LogPath() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return ""
	}
	return c.proc.LogPath
}

// Stack is a Jaeger with a Collector in front of it.
type Stack struct {
	Jaeger    *Jaeger
	Collector *Collector
}

// StartStack starts Jaeger, then creates the Collector exporting to it and,
// unless startCollector is false, starts it. Options apply to both (logs go
// to separate files in the same directory when WithLogDir is given).
func StartStack(ctx context.Context, startCollector bool, opts ...Option) (*Stack, error) {
	opts = withoutBinary(opts)
	j, err := StartJaeger(ctx, opts...)
	if err != nil {
		return nil, err
	}
	c, err := NewCollector(j.OTLPGRPC, opts...)
	if err != nil {
		j.Stop()
		return nil, err
	}
	if startCollector {
		if err := c.Start(ctx); err != nil {
			j.Stop()
			return nil, err
		}
	}
	return &Stack{Jaeger: j, Collector: c}, nil
}

// Stop stops the Collector, then Jaeger.
func (s *Stack) Stop() {
	if s == nil {
		return
	}
	if s.Collector != nil {
		s.Collector.Stop()
	}
	s.Jaeger.Stop()
}

func withoutBinary(opts []Option) []Option {
	out := make([]Option, 0, len(opts)+1)
	out = append(out, opts...)
	return append(out, optionFunc(func(c *config) { c.binary = "" }))
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func render(path, text string, data any) error {
	t, err := template.New(filepath.Base(path)).Parse(text)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// waitReady polls every check until all pass, the process exits, ctx ends or
// the timeout passes; errors carry the log tail.
func waitReady(ctx context.Context, p *proc.Process, timeout time.Duration, what string, checks ...func(context.Context) error) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	return p.WaitFor(timeout, what, func(ctx context.Context) error {
		for _, check := range checks {
			if err := check(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// otlpHTTPReady posts an empty protobuf ExportTraceServiceRequest.
func otlpHTTPReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, http.NoBody)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: %s", url, resp.Status)
		}
		return nil
	}
}

const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: {{.LogLevel}}

extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {{.J.Health}}
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: {{.J.QueryHTTP}}
    grpc:
      endpoint: {{.J.QueryGRPC}}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.J.OTLPGRPC}}
      http:
        endpoint: {{.J.OTLPHTTP}}

processors:
  batch:
    timeout: {{.BatchTimeout}}

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

const collectorConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{.C.GRPC}}
      http:
        endpoint: {{.C.HTTP}}

processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
    spike_limit_mib: 128
  batch:
    timeout: {{.BatchTimeout}}

exporters:
  otlp_grpc:
    endpoint: {{.C.ExportTo}}
    tls:
      insecure: true

service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_grpc]
  telemetry:
    metrics:
      level: none
    logs:
      level: {{.LogLevel}}
`
