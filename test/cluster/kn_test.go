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

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/queueproxy"
	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/binaries"
)

// knRunner runs the real kn (knative.dev/client v0.42.0 from
// hack/tools.sh) with the kn-trace plugin on PATH, against the cluster, as
// a user of it would.
type knRunner struct {
	kn  string
	env []string
}

func newKnRunner(ctx context.Context, t *testing.T, c *Cluster) *knRunner {
	t.Helper()
	kn, err := binaries.Path(binaries.Kn)
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := c.GoBinary(ctx, "github.com/kntrace/kntrace/cmd/kn-trace")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(plugin, filepath.Join(bin, "kn-trace")); err != nil {
		t.Fatal(err)
	}
	return &knRunner{kn: kn, env: append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		// No kn configuration or plugins of the developer's.
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"KUBECONFIG="+c.Kubeconfig, "KNTRACE_JAEGER=", "NO_COLOR=1", "COLUMNS=120",
	)}
}

// run runs kn with args and returns its standard output and exit code; a
// run that cannot start or outlives its bound fails the test.
func (k *knRunner) run(ctx context.Context, t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.kn, args...)
	cmd.Env = k.env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("kn %s: not done within 2m\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), stderr.String())
	case errors.As(err, &exit):
		t.Logf("kn %s: exit %d\nstderr:\n%s", strings.Join(args, " "), exit.ExitCode(), stderr.String())
		return out.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("kn %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// testKnTrace drives kntrace on the cluster through the real kn: kn finds
// the plugin, `kn trace get` draws testKntrace's trace through the API
// server (no address given), `kn trace coldstarts` finds helloworld's cold
// start, `kn trace doctor` passes, `kn trace dashboard` serves Jaeger's UI
// and API on a local port, and `kn trace config set` changes the
// sampling rate in a way kntrace's controller keeps, and that Knative's
// controller rolls into the revisions' Deployments; the settings it refuses
// change no ConfigMap and no Deployment.
func testKnTrace(t *testing.T, c *Cluster, traceID string) {
	ctx := context.Background()
	kn := newKnRunner(ctx, t, c)

	t.Run("plugin-list", func(t *testing.T) {
		out, code := kn.run(ctx, t, "plugin", "list")
		if code != 0 || !strings.Contains(out, "kn-trace") {
			t.Errorf("kn plugin list: exit %d, output %q; want kn-trace listed", code, out)
		}
	})
	t.Run("get", func(t *testing.T) {
		out, code := kn.run(ctx, t, "trace", "get", traceID)
		if code != 0 {
			t.Fatalf("kn trace get %s: exit %d:\n%s", traceID, code, out)
		}
		for _, want := range []string{traceID, "Cold start", sampleFront, sampleBack, "activator"} {
			if !strings.Contains(out, want) {
				t.Errorf("kn trace get %s lacks %q:\n%s", traceID, want, out)
			}
		}
		t.Logf("kn trace get %s:\n%s", traceID, out)
	})
	t.Run("coldstarts", func(t *testing.T) {
		out, code := kn.run(ctx, t, "trace", "coldstarts", sampleFront, "-n", sampleNS)
		if code != 0 || !strings.Contains(out, traceID) {
			t.Errorf("kn trace coldstarts %s: exit %d; want the cold start of trace %s:\n%s", sampleFront, code, traceID, out)
		}
		t.Logf("kn trace coldstarts %s:\n%s", sampleFront, out)
	})
	t.Run("doctor", func(t *testing.T) {
		out, code := kn.run(ctx, t, "trace", "doctor")
		if code != 0 {
			t.Errorf("kn trace doctor: exit %d, want 0 on a cluster where kntrace traces:\n%s", code, out)
		}
		t.Logf("kn trace doctor:\n%s", out)
	})
	t.Run("dashboard", func(t *testing.T) { testKnDashboard(ctx, t, kn, traceID) })
	t.Run("config-set", func(t *testing.T) {
		const rate = "0.5"
		versions := func() string {
			t.Helper()
			var vs []string
			for _, ref := range [][2]string{
				{KntraceNamespace, settings.ConfigName},
				{ServingNamespace, configmaps.ObservabilityConfigName},
				{configmaps.EventingNamespace, configmaps.ObservabilityConfigName},
			} {
				cm, err := c.Client.CoreV1().ConfigMaps(ref[0]).Get(ctx, ref[1], metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				vs = append(vs, ref[0]+"/"+ref[1]+"@"+cm.ResourceVersion)
			}
			return strings.Join(vs, " ")
		}
		revisionDeployments := []string{sampleFront + "-00001-deployment", sampleBack + "-00001-deployment"}
		before, generations := versions(), c.deploymentGenerations(ctx, t)

		// Refused: an endpoint without a scheme (Knative would silently
		// export over TLS), and --serving alone while kntrace's controller
		// keeps both namespaces as config-kntrace says. Nothing changes:
		// no ConfigMap's resourceVersion, no Deployment's generation.
		// kn passes the plugin's refusal on as exit 1; the messages are
		// internal/cli's to test.
		for _, args := range [][]string{
			{"--endpoint", conventions.CollectorName + "." + conventions.SystemNamespace + ":4317"},
			{"--serving", "--sampling-rate", rate},
		} {
			out, code := kn.run(ctx, t, append([]string{"trace", "config", "set"}, args...)...)
			if code == 0 {
				t.Errorf("kn trace config set %s: exit 0, want a refusal:\n%s", strings.Join(args, " "), out)
			}
			if after := versions(); after != before {
				t.Errorf("kn trace config set %s, refused, changed ConfigMaps: %s → %s", strings.Join(args, " "), before, after)
			}
			if diff := cmp.Diff(generations, c.deploymentGenerations(ctx, t)); diff != "" {
				t.Errorf("kn trace config set %s, refused, changed Deployments (-before +after):\n%s", strings.Join(args, " "), diff)
			}
		}

		out, code := kn.run(ctx, t, "trace", "config", "set", "--sampling-rate", rate)
		if code != 0 {
			t.Fatalf("kn trace config set --sampling-rate %s: exit %d:\n%s", rate, code, out)
		}
		t.Logf("kn trace config set --sampling-rate %s:\n%s", rate, out)
		kcfg, err := c.Client.CoreV1().ConfigMaps(KntraceNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := kcfg.Data[settings.SamplingRateKey]; got != rate {
			t.Errorf("%s/%s %s = %q, want %q: kntrace's controller would undo kn's write", KntraceNamespace, settings.ConfigName, settings.SamplingRateKey, got, rate)
		}
		// config-kntrace, which the controller keeps Knative's ConfigMaps
		// to, says rate: both of Knative's say it too.
		if err := c.poll(ctx, time.Minute, "Knative's ConfigMaps at "+rate+" after kntrace's controller reconciled", func(ctx context.Context) (string, error) {
			for _, ns := range []string{ServingNamespace, configmaps.EventingNamespace} {
				obs, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, configmaps.ObservabilityConfigName, metav1.GetOptions{})
				if err != nil {
					return err.Error(), nil
				}
				if v := obs.Data[configmaps.SamplingRateKey]; v != rate {
					return fmt.Sprintf("%s/%s %s = %q", ns, configmaps.ObservabilityConfigName, configmaps.SamplingRateKey, v), nil
				}
			}
			return "", nil
		}); err != nil {
			t.Error(err)
		}
		// Knative's own controller rolls the revisions' Deployments: their
		// queue-proxy's OBSERVABILITY_CONFIG says the new rate.
		want, err := strconv.ParseFloat(rate, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.poll(ctx, time.Minute, "the revisions' Deployments rolled by Knative's controller to rate "+rate, func(ctx context.Context) (string, error) {
			var waiting []string
			for _, name := range revisionDeployments {
				d, err := c.Client.AppsV1().Deployments(sampleNS).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err.Error(), nil
				}
				got := math.NaN()
				for _, ctr := range d.Spec.Template.Spec.Containers {
					for _, e := range ctr.Env {
						if ctr.Name == queueProxyCtr && e.Name == queueproxy.EnvObservabilityConfig {
							if tr, _, err := queueproxy.ParseObservability(e.Value); err == nil {
								got = tr.SamplingRate
							}
						}
					}
				}
				if d.Generation <= generations[sampleNS+"/"+name] || got != want {
					waiting = append(waiting, fmt.Sprintf("%s generation %d (was %d), queue-proxy sampling rate %v", name, d.Generation, generations[sampleNS+"/"+name], got))
				}
			}
			return strings.Join(waiting, "; "), nil
		}); err != nil {
			t.Error(err)
		}
	})
}

// deploymentGenerations is the generation of every Deployment of Knative,
// kntrace and the sample, by namespace/name.
func (c *Cluster) deploymentGenerations(ctx context.Context, t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, ns := range []string{ServingNamespace, configmaps.EventingNamespace, KntraceNamespace, sampleNS} {
		ds, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds.Items {
			out[ns+"/"+d.Name] = d.Generation
		}
	}
	return out
}

// testKnDashboard runs `kn trace dashboard` as a user would, reads the URL
// it prints, and fetches Jaeger's UI page and the trace through it (the
// tunnel goes through the API server's port-forward); Ctrl-C (an interrupt
// to kn's process group, as a terminal sends it: kn runs the plugin as its
// child) ends both.
func testKnDashboard(ctx context.Context, t *testing.T, kn *knRunner, traceID string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kn.kn, "trace", "dashboard")
	cmd.Env = kn.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A plugin left behind would hold the output open: Wait gives up on
	// it after WaitDelay.
	cmd.WaitDelay = 10 * time.Second
	urls := make(chan string, 1)
	var stderr bytes.Buffer
	cmd.Stdout = &lines{fn: func(line string) {
		if m := dashboardURL.FindString(line); m != "" {
			select {
			case urls <- m:
			default:
			}
		}
	}}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		interrupted := time.Now()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case err := <-done:
			// Past WaitDelay, something (the plugin) held kn's output open.
			if took := time.Since(interrupted); !stoppedByCtrlC(err) || took >= cmd.WaitDelay {
				t.Errorf("kn trace dashboard after Ctrl-C: %v after %s; want kn ended by the interrupt and the plugin gone within %s\nstderr:\n%s",
					err, took.Round(time.Millisecond), cmd.WaitDelay, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("kn trace dashboard still running 30s after Ctrl-C\nstderr:\n%s", stderr.String())
			<-done
		}
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		done <- err
		t.Fatalf("kn trace dashboard exited (%v) before printing a URL\nstderr:\n%s", err, stderr.String())
	case <-ctx.Done():
		t.Fatalf("kn trace dashboard printed no URL within 2m\nstderr:\n%s", stderr.String())
	}
	t.Logf("kn trace dashboard: %s", url)
	for _, tc := range []struct{ path, want string }{
		{"", "<html"},
		{"api/traces/" + traceID, traceID},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s%s: %v", url, tc.path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s%s through kn trace dashboard: %s, %d bytes; want 200 containing %q", url, tc.path, resp.Status, len(body), tc.want)
		}
	}
}

// stoppedByCtrlC reports whether kn, given Ctrl-C, ended as it should:
// exit 0, or killed by the interrupt itself (kn does not handle it; the
// plugin does).
func stoppedByCtrlC(err error) bool {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &exit):
		ws, ok := exit.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
	}
	return false
}

// lines is an io.Writer that calls fn with each complete line written to
// it.
type lines struct {
	fn      func(line string)
	partial []byte
}

func (l *lines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.fn(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

// dashboardURL is the URL `kn trace dashboard` prints.
var dashboardURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)
