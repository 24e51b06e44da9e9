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

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kntrace/kntrace/test/backends"
	"github.com/kntrace/kntrace/test/proc"
)

// Load of one benchmark operation: requests sent by concurrent clients over
// keep-alive connections, after a warm-up that also takes the cold start.
const (
	benchRequests    = 10000 // per side and operation
	benchSlices      = 20    // the sides take turns every benchRequests/benchSlices requests
	benchConcurrency = 8
	benchWarmup      = 200
	benchStarts      = 15 // queue-proxy starts per start-up operation
)

// profileDir, when set, makes BenchmarkQueueProxy turn on Knative's
// profiling server (config-observability runtime-profiling, the same on both
// sides) and, after the timed requests, record a CPU profile and an
// execution trace of each queue-proxy process under the same load, with the
// number of requests each covers in requests.txt, and, where strace is
// installed, the queue-proxy's system call counts (name.strace, also
// counted in requests.txt). Blocking profiles come from the trace (go tool
// trace -pprof=sync|net|syscall|sched): neither binary sets a block
// profile rate.
var (
	profileDir  = flag.String("queue.profile", "", "write CPU profiles, execution traces and system call counts of both queue-proxies under load to this directory")
	profileTime = flag.Duration("queue.profile-time", 5*time.Second, "length of each profile taken with -queue.profile")
)

// BenchmarkQueueProxy measures kntrace's and upstream's queue-proxy, each
// in front of the test app with the environment Knative's code gives it and
// spans exported to a real Collector, at sampling rates 1 and 0.
//
// Both pods run at once and take the load in turns: benchSlices slices per
// side and operation, the side that goes first alternating, so that a
// machine shared with other work weighs on both alike. Each side's
// sub-benchmark then reports that side's figures: throughput (req/s, and
// ns/op as wall time per request), latency percentiles (p50-ms, p99-ms) and
// the queue-proxy process's CPU time per 1000 requests (qp-cpu-ms/kreq,
// including the exports it does after the requests), which varies much
// less with other load on the machine than time does. The app's CPU time
// (app-cpu-ms/kreq) is the same program's on both sides, bar where its
// spans go, and shows what the queue-proxy's choices cost the app.
//
// Both apps export their own spans too, so that both sides deliver the same
// spans: kntrace's to the relay on localhost:4318 (what kntrace's webhook
// injects), upstream's straight to the Collector (what a user of upstream
// sets up, as nothing listens on localhost:4318 there).
//
// The Collector and Jaeger share the machine and pass each export on as it
// comes (backends.WithBatchTimeout(0)), so that their work on a side's
// spans is done in that side's turn: when their batch processors held spans
// 100 ms each, with turns then about as long, that work fell in whichever
// turn came later, mostly kntrace's (Jaeger used 120-155 µs a request in
// kntrace's turns and 55-80 in upstream's, against 115-130 for either side
// measured alone). backend-cpu-ms/kreq is the Collector's and Jaeger's CPU
// time in the side's turns, per 1000 of its requests: the same spans, so
// the same figure on both sides when the turns are fair.
func BenchmarkQueueProxy(b *testing.B) {
	_, app := built(b)
	stack := backends.Start(b, true, backends.WithBatchTimeout(0))
	sides := []string{sideKntrace, sideUpstream}
	for _, rate := range []string{"1", "0"} {
		b.Run("sampling="+rate, func(b *testing.B) {
			b.ReportAllocs()
			pods := make([]*benchPod, len(sides))
			for i, side := range sides {
				pods[i] = startBenchPod(b, stack, app, side, rate)
			}
			for _, p := range pods {
				p.start(b)
			}
			b.ResetTimer()
			for range b.N {
				for s := range benchSlices {
					for k := range pods {
						p := pods[(s+k)%len(pods)]
						if err := p.measure(benchRequests / benchSlices); err != nil {
							b.Fatalf("%s: %v", p.side, err)
						}
					}
				}
			}
			b.StopTimer()
			for _, p := range pods {
				p.stop(b)
			}
			for _, p := range pods {
				b.Run(p.side, func(b *testing.B) {
					b.ReportAllocs()
					p.report(b)
				})
			}
			if *profileDir != "" {
				for _, p := range pods {
					profileUnderLoad(b, p.pod, fmt.Sprintf("sampling-%s-%s", rate, p.side))
				}
			}
		})
	}
}

// benchPod is one side's pod in BenchmarkQueueProxy and what was measured
// through it.
type benchPod struct {
	side     string
	pod      *pod
	exported []*forwarder    // the pod's ways to the Collector
	backends *backends.Stack // shared with the other side

	latencies  []time.Duration
	elapsed    time.Duration
	cpu        time.Duration // the queue-proxy's, between start and stop
	appCPU     time.Duration // the app's, between start and stop
	backendCPU time.Duration // the Collector's and Jaeger's, in this side's turns
	bytes      int64         // sent towards the Collector, between start and stop
}

// startBenchPod starts side's pod at the sampling rate and warms it up.
func startBenchPod(b *testing.B, stack *backends.Stack, app, side, rate string) *benchPod {
	b.Helper()
	ns := newNetns(b)
	fwd := newForwarder(b, ns.hostIP, stack.Collector.GRPC)
	bp := &benchPod{side: side, exported: []*forwarder{fwd}, backends: stack}
	obs := tracingSpec(fwd.Addr(), rate)
	if *profileDir != "" {
		obs["runtime-profiling"] = "enabled"
	}
	opts := podOptions{queueBinary: queueBinary(b, side), appBinary: app}
	if side == sideUpstream {
		direct := newForwarder(b, ns.hostIP, stack.Collector.HTTP)
		bp.exported = append(bp.exported, direct)
		opts.appEnv = []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + direct.Addr()}
	}
	bp.pod = startPod(b, ns, makePod(b, revisionSpec{observability: obs, concurrency: 0}), opts)
	if _, err := load(bp.pod, benchWarmup); err != nil {
		b.Fatalf("%s: warm-up: %v", side, err)
	}
	return bp
}

func (p *benchPod) sent() int64 {
	var n int64
	for _, f := range p.exported {
		n += f.sent.Load()
	}
	return n
}

// start and stop bracket the measurement: the queue-proxy's and the app's
// CPU time and the bytes the pod sends towards the Collector in between
// count.
func (p *benchPod) start(b *testing.B) {
	b.Helper()
	// The wrappers (ip netns exec, env) exec the binaries: the processes
	// are the queue-proxy and the app themselves, or their CPU times would
	// not be.
	for _, pr := range []struct {
		proc *proc.Process
		bin  string
	}{{p.pod.queue, p.pod.queueBin}, {p.pod.app, p.pod.appBin}} {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pr.proc.Pid()))
		if err != nil {
			b.Fatal(err)
		}
		if bin, err := filepath.EvalSymlinks(pr.bin); err != nil || bin != exe {
			b.Fatalf("%s: process %d runs %s, not %s (%v)", p.side, pr.proc.Pid(), exe, pr.bin, err)
		}
	}
	qp, app := p.cpuTimes(b)
	p.cpu, p.appCPU, p.bytes = -qp, -app, -p.sent()
}

func (p *benchPod) stop(b *testing.B) {
	b.Helper()
	qp, app := p.cpuTimes(b)
	p.cpu += qp
	p.appCPU += app
	p.bytes += p.sent()
}

// cpuTimes reads the queue-proxy's and the app's CPU times.
func (p *benchPod) cpuTimes(b *testing.B) (qp, app time.Duration) {
	b.Helper()
	q, err := p.pod.queue.Usage()
	if err != nil {
		b.Fatal(err)
	}
	a, err := p.pod.app.Usage()
	if err != nil {
		b.Fatal(err)
	}
	return q.CPU, a.CPU
}

// measure sends n requests through the pod.
func (p *benchPod) measure(n int) error {
	before, err := p.backendTime()
	if err != nil {
		return err
	}
	start := time.Now()
	lat, err := load(p.pod, n)
	p.elapsed += time.Since(start)
	p.latencies = append(p.latencies, lat...)
	if err != nil {
		return err
	}
	after, err := p.backendTime()
	p.backendCPU += after - before
	return err
}

// backendTime reads the Collector's and Jaeger's CPU times, summed.
func (p *benchPod) backendTime() (time.Duration, error) {
	c, err := p.backends.Collector.Usage()
	if err != nil {
		return 0, fmt.Errorf("collector: %w", err)
	}
	j, err := p.backends.Jaeger.Usage()
	if err != nil {
		return 0, fmt.Errorf("jaeger: %w", err)
	}
	return c.CPU + j.CPU, nil
}

func (p *benchPod) report(b *testing.B) {
	slices.Sort(p.latencies)
	n := float64(len(p.latencies))
	b.ReportMetric(float64(p.elapsed.Nanoseconds())/n, "ns/op")
	b.ReportMetric(n/p.elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(percentile(p.latencies, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(p.latencies, 0.99)), "p99-ms")
	b.ReportMetric(ms(p.cpu)/(n/1000), "qp-cpu-ms/kreq")
	b.ReportMetric(ms(p.appCPU)/(n/1000), "app-cpu-ms/kreq")
	b.ReportMetric(ms(p.backendCPU)/(n/1000), "backend-cpu-ms/kreq")
	b.Logf("%s: %.0f bytes of spans sent towards the Collector per request", p.side, float64(p.bytes)/n)
}

// profileUnderLoad keeps benchConcurrency clients sending requests through
// p while it takes a CPU profile, then an execution trace, of p's
// queue-proxy from Knative's profiling server, and writes them to
// profileDir as name.cpu.pprof and name.trace; then it counts the
// process's system calls (countSyscalls).
func profileUnderLoad(b *testing.B, p *pod, name string) {
	b.Helper()
	if err := os.MkdirAll(*profileDir, 0o755); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	loadErr := make(chan error, 1)
	var sent atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				loadErr <- nil
				return
			default:
			}
			if _, err := load(p, benchWarmup); err != nil {
				loadErr <- err
				return
			}
			sent.Add(benchWarmup)
		}
	}()
	base := "http://" + net.JoinHostPort(p.ns.podIP, profilingPort) + "/debug/pprof/"
	secs := fmt.Sprintf("?seconds=%d", int(profileTime.Seconds()))
	var fetchErr error
	for _, f := range []struct{ path, file string }{{"profile", name + ".cpu.pprof"}, {"trace", name + ".trace"}} {
		before := sent.Load()
		if fetchErr = fetch(base+f.path+secs, filepath.Join(*profileDir, f.file), *profileTime+30*time.Second); fetchErr != nil {
			break
		}
		// Benchmarks that have sub-benchmarks print no log: the
		// counts go next to the profiles, to scale them per request.
		if err := appendLine(filepath.Join(*profileDir, "requests.txt"), fmt.Sprintf("%s: about %d requests", f.file, sent.Load()-before)); err != nil {
			b.Fatal(err)
		}
	}
	if fetchErr == nil {
		fetchErr = countSyscalls(p, name, &sent)
	}
	close(stop)
	if err := <-loadErr; err != nil {
		b.Fatalf("load while profiling: %v", err)
	}
	if fetchErr != nil {
		b.Fatal(fetchErr)
	}
}

// countSyscalls counts the system calls of p's queue-proxy, all threads,
// for profileTime with strace -c into profileDir/name.strace, with the
// requests it covers in requests.txt (counts only: strace slows the
// process, so its times say nothing). Without strace it writes nothing.
func countSyscalls(p *pod, name string, sent *atomic.Int64) error {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil
	}
	out := filepath.Join(*profileDir, name+".strace")
	ctx, cancel := context.WithTimeout(context.Background(), *profileTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, strace, "-c", "-f", "-o", out, "-p", strconv.Itoa(p.queue.Pid()))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // strace writes its summary on SIGINT
	cmd.WaitDelay = 10 * time.Second
	before := sent.Load()
	if msg, err := cmd.CombinedOutput(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("strace -c -p %d: %v: %s", p.queue.Pid(), err, msg)
	}
	return appendLine(filepath.Join(*profileDir, "requests.txt"), fmt.Sprintf("%s: about %d requests", filepath.Base(out), sent.Load()-before))
}

func appendLine(file, line string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profilingPort is Knative's default (knative.dev/pkg/observability/runtime).
const profilingPort = "8008"

// fetch writes the body of a GET of url to file.
func fetch(url, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return f.Close()
}

// BenchmarkQueueProxyStartup measures a queue-proxy's start to its first
// passing readiness probe (the app already listening, tracing on at rate
// 1). Both sides' pods run at once and their queue-proxies restart in
// turns, benchStarts times each per operation, so that other load on the
// machine weighs on both alike; each side's sub-benchmark reports ready-ms,
// the median of its starts.
func BenchmarkQueueProxyStartup(b *testing.B) {
	_, app := built(b)
	stack := backends.Start(b, true)
	sides := []string{sideKntrace, sideUpstream}
	pods := make([]*pod, len(sides))
	for i, side := range sides {
		ns := newNetns(b)
		fwd := newForwarder(b, ns.hostIP, stack.Collector.GRPC)
		spec := makePod(b, revisionSpec{observability: tracingSpec(fwd.Addr(), "1"), concurrency: 0})
		pods[i] = startPod(b, ns, spec, podOptions{queueBinary: queueBinary(b, side), appBinary: app, appFirst: true})
	}
	starts := make([][]time.Duration, len(sides))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for n := range benchStarts {
			for k := range sides {
				i := (n + k) % len(sides)
				starts[i] = append(starts[i], pods[i].restartQueue(b))
			}
		}
	}
	b.StopTimer()
	for i, side := range sides {
		b.Run(side, func(b *testing.B) {
			b.ReportAllocs()
			slices.Sort(starts[i])
			b.ReportMetric(ms(percentile(starts[i], 0.5)), "ready-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// load sends n requests through the pod's queue-proxy from
// benchConcurrency clients and returns each request's latency.
func load(p *pod, n int) ([]time.Duration, error) {
	url := p.url("/")
	lat := make([]time.Duration, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int, n)
	)
	for i := range n {
		next <- i
	}
	close(next)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				start := time.Now()
				resp, err := p.client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("request %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	return lat, first
}
