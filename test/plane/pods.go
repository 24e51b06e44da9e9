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

package plane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	"knative.dev/serving/pkg/reconciler/revision/resources"

	"github.com/kntrace/kntrace/test/proc"
)

// QueueContainerName is the name Knative gives the queue-proxy container.
const QueueContainerName = "queue-proxy"

// pathEnv is the PATH a pod's processes get (their env is exactly the pod
// spec's, plus what a kubelet adds).
const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Pod is one running revision pod, as the plane reports it.
type Pod struct {
	Name      string
	Namespace string
	Revision  string
	IP        string
	// Started is when the pod's network namespace existed and its first
	// process was launched; Ready when its readiness probe first passed.
	Started time.Time
	Ready   time.Time
	// LogDir holds one log per container.
	LogDir string
}

type podContainer struct {
	name    string
	proc    *proc.Process
	preStop *corev1.HTTPGetAction
}

type pod struct {
	Pod
	// terminating pods are out of the Endpoints and stopping; they stay in
	// the list until their processes and network namespace are gone.
	terminating bool
	hash        string
	ports       []corev1.ContainerPort
	netns       *netns
	containers  []podContainer
	grace       time.Duration
}

type revPods struct {
	op   sync.Mutex // serialises scaling of one revision
	want int
	pods []*pod
}

// podRunner runs revision pods as processes in network namespaces.
type podRunner struct {
	kube        kubernetes.Interface
	serving     servingclient.Interface
	ko          *koBuilder
	queueBinary string
	hosts       *hostsFile
	dir         string
	slots       slots
	maxGrace    time.Duration
	readyTO     time.Duration
	logf        func(string, ...any)
	// onChange is called after the set of ready pods of a revision changed.
	onChange func(ctx context.Context, key types.NamespacedName, ready []*pod)

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu   sync.Mutex
	revs map[types.NamespacedName]*revPods
}

var _ scaleTarget = (*podRunner)(nil)

func (r *podRunner) rev(key types.NamespacedName) *revPods {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp, ok := r.revs[key]
	if !ok {
		rp = &revPods{}
		r.revs[key] = rp
	}
	return rp
}

func (r *podRunner) replicas(key types.NamespacedName) int {
	rp := r.rev(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	return rp.want
}

// scale sets the wanted pod count and converges in the background.
func (r *podRunner) scale(_ context.Context, key types.NamespacedName, n int) error {
	if r.ctx.Err() != nil {
		return context.Canceled
	}
	rp := r.rev(key)
	r.mu.Lock()
	rp.want = n
	r.mu.Unlock()
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		if err := r.converge(key, false); err != nil && r.ctx.Err() == nil {
			r.logf("pods: %s: %v", key, err)
		}
	}()
	return nil
}

// roll replaces the pods of every running revision whose pod spec changed
// (a ConfigMap edit): new pod first, then the old one stops, as a Deployment
// with maxUnavailable 0 rolls.
func (r *podRunner) roll() {
	r.mu.Lock()
	keys := make([]types.NamespacedName, 0, len(r.revs))
	for k := range r.revs {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	for _, k := range keys {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			if err := r.converge(k, true); err != nil && r.ctx.Err() == nil {
				r.logf("pods: roll %s: %v", k, err)
			}
		}()
	}
}

// converge starts or stops pods of key until the wanted count runs; with
// roll, pods whose spec hash is out of date are replaced.
func (r *podRunner) converge(key types.NamespacedName, roll bool) error {
	rp := r.rev(key)
	rp.op.Lock()
	defer rp.op.Unlock()
	for r.ctx.Err() == nil {
		r.mu.Lock()
		want, have := rp.want, len(rp.pods)
		r.mu.Unlock()
		ready := func() []*pod {
			r.mu.Lock()
			defer r.mu.Unlock()
			var out []*pod
			for _, p := range rp.pods {
				if !p.terminating {
					out = append(out, p)
				}
			}
			return out
		}
		remove := func(victim *pod) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for i, p := range rp.pods {
				if p == victim {
					rp.pods = append(rp.pods[:i], rp.pods[i+1:]...)
					return
				}
			}
		}
		switch {
		case have < want:
			p, err := r.startPod(key)
			if err != nil {
				return err
			}
			r.mu.Lock()
			rp.pods = append(rp.pods, p)
			r.mu.Unlock()
			r.onChange(r.ctx, key, ready())
		case have > want:
			r.mu.Lock()
			victim := rp.pods[len(rp.pods)-1]
			victim.terminating = true
			r.mu.Unlock()
			// Endpoints first: the activator stops sending before the
			// processes get SIGTERM, as with a terminating pod.
			r.onChange(r.ctx, key, ready())
			r.stopPod(victim, victim.grace)
			remove(victim)
		case roll && have > 0:
			roll = false
			hash, err := r.specHash(key)
			if err != nil {
				return err
			}
			r.mu.Lock()
			current := append([]*pod(nil), rp.pods...)
			r.mu.Unlock()
			for _, old := range current {
				if old.hash == hash {
					continue
				}
				r.logf("pods: %s: pod spec changed, rolling %s", key, old.Name)
				p, err := r.startPod(key)
				if err != nil {
					return err
				}
				r.mu.Lock()
				old.terminating = true
				rp.pods = append(rp.pods, p)
				r.mu.Unlock()
				r.onChange(r.ctx, key, ready())
				r.stopPod(old, old.grace)
				remove(old)
			}
		default:
			return nil
		}
	}
	return r.ctx.Err()
}

// pods returns the running pods of key.
func (r *podRunner) pods(key types.NamespacedName) []Pod {
	rp := r.rev(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Pod, 0, len(rp.pods))
	for _, p := range rp.pods {
		out = append(out, p.Pod)
	}
	return out
}

func (r *podRunner) deployment(key types.NamespacedName) (*v1.Revision, *resourcesDeployment, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	rev, err := r.serving.ServingV1().Revisions(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("get revision: %w", err)
	}
	cfg, _, err := loadRevisionConfig(ctx, r.kube)
	if err != nil {
		return nil, nil, err
	}
	d, err := resources.MakeDeployment(rev, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("pod spec from Knative's revision resources: %w", err)
	}
	return rev, &resourcesDeployment{spec: d.Spec.Template.Spec, hash: d.Labels[serving.RevisionDeploymentHashLabelKey], name: d.Name}, nil
}

type resourcesDeployment struct {
	name string
	hash string
	spec corev1.PodSpec
}

func (r *podRunner) specHash(key types.NamespacedName) (string, error) {
	_, d, err := r.deployment(key)
	if err != nil {
		return "", err
	}
	return d.hash, nil
}

func randSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startPod runs one pod of key and waits until its readiness probe passes.
func (r *podRunner) startPod(key types.NamespacedName) (p *pod, err error) {
	rev, d, err := r.deployment(key)
	if err != nil {
		return nil, err
	}
	slot, err := r.slots.get()
	if err != nil {
		return nil, err
	}
	p = &pod{hash: d.hash}
	p.Name = d.name + "-" + randSuffix(3)
	p.Namespace, p.Revision = key.Namespace, key.Name
	p.LogDir = filepath.Join(r.dir, "pods", p.Name)
	p.grace = r.maxGrace
	if g := d.spec.TerminationGracePeriodSeconds; g != nil && time.Duration(*g)*time.Second < p.grace {
		p.grace = time.Duration(*g) * time.Second
	}
	defer func() {
		if err != nil {
			r.stopPod(p, 0)
			err = fmt.Errorf("pod %s of %s: %w", p.Name, key, err)
		}
	}()
	if err := os.MkdirAll(p.LogDir, 0o755); err != nil {
		r.slots.put(slot)
		return p, err
	}
	p.Started = time.Now()
	if p.netns, err = createNetns(netnsPrefix+"p"+strconv.Itoa(slot), slot); err != nil {
		r.slots.put(slot)
		return p, err
	}
	netnsDone := time.Now()
	p.IP = p.netns.PodIP.String()
	meta := podMeta{name: p.Name, namespace: key.Namespace, uid: randSuffix(8), podIP: p.IP, hostIP: p.netns.HostIP.String(), sa: d.spec.ServiceAccountName}

	var probe *corev1.Probe
	for _, c := range d.spec.Containers {
		bin, err := r.containerBinary(c)
		if err != nil {
			return p, err
		}
		env, err := meta.env(r.ctx, r.kube, c)
		if err != nil {
			return p, fmt.Errorf("container %s: %w", c.Name, err)
		}
		// The env as the process gets it, for whoever debugs the pod.
		_ = os.WriteFile(filepath.Join(p.LogDir, c.Name+".env"), []byte(strings.Join(env, "\n")+"\n"), 0o600)
		args := append([]string(nil), c.Args...)
		if len(c.Command) > 1 {
			args = append(append([]string(nil), c.Command[1:]...), args...)
		}
		wrapper := append(append(p.netns.wrapper(), mountWrapper(r.hosts.path)...), append([]string{"env", "-i"}, env...)...)
		opts := []proc.Option{proc.WithWrapper(wrapper...), proc.WithLogDir(p.LogDir), proc.WithGrace(p.grace)}
		if c.WorkingDir != "" {
			opts = append(opts, proc.WithDir(c.WorkingDir))
		}
		pr, err := proc.Start(c.Name, bin, args, opts...)
		if err != nil {
			return p, fmt.Errorf("container %s: %w", c.Name, err)
		}
		pc := podContainer{name: c.Name, proc: pr}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			pc.preStop = c.Lifecycle.PreStop.HTTPGet
		}
		p.containers = append(p.containers, pc)
		p.ports = append(p.ports, c.Ports...)
		if c.Name == QueueContainerName && c.ReadinessProbe != nil {
			probe = c.ReadinessProbe
		}
	}
	if probe == nil || probe.HTTPGet == nil {
		return p, fmt.Errorf("no HTTP readiness probe on the %s container of revision %s", QueueContainerName, rev.Name)
	}
	launched := time.Now()
	if err := r.waitReady(p, probe.HTTPGet); err != nil {
		return p, err
	}
	p.Ready = time.Now()
	r.logf("pods: %s ready at %s in %s (network namespace %s, processes launched %s, readiness %s)", p.Name, p.IP,
		p.Ready.Sub(p.Started).Round(time.Millisecond), netnsDone.Sub(p.Started).Round(time.Millisecond),
		launched.Sub(netnsDone).Round(time.Millisecond), p.Ready.Sub(launched).Round(time.Millisecond))
	return p, nil
}

// waitReady probes like a kubelet (User-Agent kube-probe/1.35, the probe's
// headers) every 25 ms until 2xx/3xx, a container exits, or the ready
// timeout passes.
func (r *podRunner) waitReady(p *pod, get *corev1.HTTPGetAction) error {
	url := fmt.Sprintf("http://%s%s", net.JoinHostPort(p.IP, get.Port.String()), get.Path)
	if get.Path == "" {
		url += "/"
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(r.readyTO)
	var last error
	for {
		for _, c := range p.containers {
			if exited, err := c.proc.Exited(); exited {
				return fmt.Errorf("container %s exited before the pod was ready (%v); log %s:\n%s", c.name, err, c.proc.LogPath, c.proc.LogTail(20))
			}
		}
		req, _ := http.NewRequestWithContext(r.ctx, http.MethodGet, url, nil)
		req.Header.Set("User-Agent", "kube-probe/1.35")
		for _, h := range get.HTTPHeaders {
			req.Header.Set(h.Name, h.Value)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 400 {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, c := range p.containers {
				fmt.Fprintf(&logs, "--- %s (%s):\n%s\n", c.name, c.proc.LogPath, c.proc.LogTail(15))
			}
			return fmt.Errorf("readiness probe did not pass within %s (last: %v)\n%s", r.readyTO, last, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// containerBinary maps a container image to an executable: the queue-proxy
// image from config-deployment to the configured queue-proxy binary unless
// it is a ko:// image, everything else through the ko builder.
func (r *podRunner) containerBinary(c corev1.Container) (string, error) {
	if c.Name == QueueContainerName && isUpstreamQueue(c.Image) {
		if _, mapped := r.ko.images[c.Image]; !mapped {
			return r.queueBinary, nil
		}
	}
	if len(c.Command) > 0 && filepath.IsAbs(c.Command[0]) {
		return c.Command[0], nil
	}
	return r.ko.binary(r.ctx, c.Image)
}

// isUpstreamQueue reports whether image is Knative's own queue-proxy, as
// config-deployment ships it: ko://knative.dev/serving/cmd/queue in the
// source tree, a knative-releases image with that path in a release.
func isUpstreamQueue(image string) bool {
	return strings.Contains(image, "knative.dev/serving/cmd/queue") || !isKo(image)
}

// stopPod stops a pod as a kubelet does: each container's preStop hook
// runs, then SIGTERM; after grace, SIGKILL. Then the network namespace goes.
func (r *podRunner) stopPod(p *pod, grace time.Duration) {
	deadline := time.Now().Add(grace)
	var wg sync.WaitGroup
	for _, c := range p.containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.preStop != nil && grace > 0 {
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				url := fmt.Sprintf("http://%s%s", net.JoinHostPort(p.IP, c.preStop.Port.String()), c.preStop.Path)
				if req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil); err == nil {
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}
				cancel()
			}
			_ = c.proc.Signal(syscall.SIGTERM)
			select {
			case <-c.proc.Done():
			case <-time.After(time.Until(deadline)):
				c.proc.Kill()
			}
		}()
	}
	wg.Wait()
	if p.netns != nil {
		p.netns.delete()
		r.slots.put(p.netns.Slot)
	}
}

// stopAll stops every pod (grace bounded by grace) and waits for background
// scaling to end.
func (r *podRunner) stopAll(grace time.Duration) {
	r.cancel()
	r.bg.Wait()
	r.mu.Lock()
	var all []*pod
	for _, rp := range r.revs {
		all = append(all, rp.pods...)
		rp.pods = nil
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() { defer wg.Done(); r.stopPod(p, min(grace, p.grace)) }()
	}
	wg.Wait()
}

// podMeta is what the downward API and a kubelet know about a pod.
type podMeta struct {
	name, namespace, uid, podIP, hostIP, sa string
}

// env returns the container's environment as KEY=VALUE: its env with
// fieldRef/configMapKeyRef/secretKeyRef resolved, $(VAR) references
// expanded, plus HOSTNAME and PATH as a kubelet and image would add.
func (m podMeta) env(ctx context.Context, kube kubernetes.Interface, c corev1.Container) ([]string, error) {
	if len(c.EnvFrom) > 0 {
		return nil, errors.New("envFrom is not supported by the local plane")
	}
	vals := map[string]string{}
	var order []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			var err error
			if v, err = m.resolve(ctx, kube, e.ValueFrom); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		} else {
			v = expandRefs(v, vals)
		}
		if _, seen := vals[e.Name]; !seen {
			order = append(order, e.Name)
		}
		vals[e.Name] = v
	}
	out := []string{pathEnv, "HOSTNAME=" + m.name}
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func (m podMeta) resolve(ctx context.Context, kube kubernetes.Interface, src *corev1.EnvVarSource) (string, error) {
	switch {
	case src.FieldRef != nil:
		switch src.FieldRef.FieldPath {
		case "metadata.name":
			return m.name, nil
		case "metadata.namespace":
			return m.namespace, nil
		case "metadata.uid":
			return m.uid, nil
		case "status.podIP":
			return m.podIP, nil
		case "status.podIPs":
			return m.podIP, nil
		case "status.hostIP", "status.hostIPs":
			return m.hostIP, nil
		case "spec.nodeName":
			return "kntrace-local", nil
		case "spec.serviceAccountName":
			return m.sa, nil
		}
		return "", fmt.Errorf("fieldRef %s is not supported by the local plane", src.FieldRef.FieldPath)
	case src.ResourceFieldRef != nil:
		return "0", nil
	case src.ConfigMapKeyRef != nil:
		cm, err := kube.CoreV1().ConfigMaps(m.namespace).Get(ctx, src.ConfigMapKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return cm.Data[src.ConfigMapKeyRef.Key], nil
	case src.SecretKeyRef != nil:
		s, err := kube.CoreV1().Secrets(m.namespace).Get(ctx, src.SecretKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return string(s.Data[src.SecretKeyRef.Key]), nil
	}
	return "", errors.New("empty valueFrom")
}

// expandRefs expands $(NAME) with earlier variables, as Kubernetes does.
func expandRefs(v string, vals map[string]string) string {
	if !strings.Contains(v, "$(") {
		return v
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v = strings.ReplaceAll(v, "$("+k+")", vals[k])
	}
	return v
}
