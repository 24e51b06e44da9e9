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

package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// DefaultReadyTimeout bounds how long Open waits for the forward to listen.
const DefaultReadyTimeout = 15 * time.Second

// Target is a Service port inside the cluster.
type Target struct {
	Namespace string
	Service   string
	// Port is the Service port's name or number.
	Port string
}

func (t Target) String() string { return t.Namespace + "/" + t.Service + ":" + t.Port }

// ParseTarget reads "NAMESPACE/SERVICE:PORT" or a cluster DNS name:
// "SERVICE.NAMESPACE:PORT", "SERVICE.NAMESPACE.svc:PORT" or
// "SERVICE.NAMESPACE.svc.cluster.local:PORT" (a URL's scheme and path are
// ignored). ok is false when s names no Service inside the cluster.
func ParseTarget(s string) (Target, bool) {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		s = u.Host
	}
	hostPart, port, ok := strings.Cut(s, ":")
	if !ok || port == "" || strings.Contains(port, ":") {
		return Target{}, false
	}
	if ns, svc, ok := strings.Cut(hostPart, "/"); ok {
		if ns == "" || svc == "" {
			return Target{}, false
		}
		return Target{Namespace: ns, Service: svc, Port: port}, true
	}
	labels := strings.Split(strings.TrimSuffix(hostPart, "."), ".")
	switch {
	case len(labels) < 2 || labels[0] == "" || labels[1] == "":
		return Target{}, false
	case len(labels) == 2:
	case labels[2] != "svc":
		return Target{}, false
	case len(labels) > 3 && strings.Join(labels[3:], ".") != "cluster.local":
		return Target{}, false
	}
	return Target{Namespace: labels[1], Service: labels[0], Port: port}, true
}

// Tunnel is an open forward to one pod of a Service.
type Tunnel struct {
	// Addr is the local address to dial (127.0.0.1:PORT).
	Addr string
	// Pod is the pod the tunnel reaches.
	Pod string

	stop chan struct{}
	done chan error
}

// Open forwards a free loopback port to a ready pod behind t. It fails with
// an error naming what is missing (the Service, its port, a ready pod) or
// what refused the forward.
func Open(ctx context.Context, cfg *rest.Config, kube kubernetes.Interface, t Target) (*Tunnel, error) {
	pod, podPort, err := resolve(ctx, kube, t)
	if err != nil {
		return nil, err
	}
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", t, err)
	}
	u := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(int(podPort))}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", t, err)
	}
	tun := &Tunnel{Pod: pod, stop: stop, done: make(chan error, 1)}
	go func() { tun.done <- pf.ForwardPorts() }()
	timer := time.NewTimer(DefaultReadyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case err := <-tun.done:
		return nil, fmt.Errorf("tunnel to %s (pod %s port %d) through the API server: %w", t, pod, podPort, err)
	case <-timer.C:
		close(stop)
		return nil, fmt.Errorf("tunnel to %s (pod %s port %d): not listening after %s", t, pod, podPort, DefaultReadyTimeout)
	case <-ctx.Done():
		close(stop)
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return nil, fmt.Errorf("tunnel to %s: no local port: %v", t, err)
	}
	tun.Addr = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return tun, nil
}

// Close stops the forward.
func (t *Tunnel) Close() error {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	return nil
}

// Done delivers the forward's end: nil after Close, an error when the API
// server or the pod ended it.
func (t *Tunnel) Done() <-chan error { return t.done }

// resolve finds a ready pod behind the Service and the pod port the Service
// port targets.
func resolve(ctx context.Context, kube kubernetes.Interface, t Target) (string, int32, error) {
	svc, err := kube.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("service %s/%s: %w", t.Namespace, t.Service, err)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Name == t.Port || strconv.Itoa(int(p.Port)) == t.Port {
			sp = p
			break
		}
	}
	if sp == nil {
		return "", 0, fmt.Errorf("service %s/%s has no port %q", t.Namespace, t.Service, t.Port)
	}
	slices, err := kube.DiscoveryV1().EndpointSlices(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + t.Service})
	if err != nil {
		return "", 0, fmt.Errorf("endpoints of service %s/%s: %w", t.Namespace, t.Service, err)
	}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			port, err := podPort(ctx, kube, t.Namespace, ep.TargetRef.Name, sp.TargetPort, sp.Port)
			if err != nil {
				return "", 0, err
			}
			return ep.TargetRef.Name, port, nil
		}
	}
	return "", 0, fmt.Errorf("service %s/%s has no ready pod (kubectl -n %s get pods; its selector %v)", t.Namespace, t.Service, t.Namespace, svc.Spec.Selector)
}

// podPort is the container port targetPort names on the pod (a number is
// itself; an empty one is the Service port).
func podPort(ctx context.Context, kube kubernetes.Interface, ns, pod string, target intstr.IntOrString, servicePort int32) (int32, error) {
	switch {
	case target.Type == intstr.Int && target.IntVal != 0:
		return target.IntVal, nil
	case target.Type == intstr.Int:
		return servicePort, nil
	}
	p, err := kube.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("pod %s/%s: %w", ns, pod, err)
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == target.StrVal {
				return cp.ContainerPort, nil
			}
		}
	}
	return 0, errors.New("pod " + ns + "/" + pod + " has no container port named " + strconv.Quote(target.StrVal))
}
