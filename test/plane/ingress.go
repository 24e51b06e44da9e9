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
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Headers Knative's ingresses add when they route to the activator.
const (
	RevisionHeader  = "Knative-Serving-Revision"
	NamespaceHeader = "Knative-Serving-Namespace"
)

// ingress routes by Host (<svc>.<ns>[.svc[.cluster.local]][:port]) to the
// activator with the revision headers, like a Knative ingress in proxy mode.
// It adds no spans and leaves every other header alone.
type ingress struct {
	route func(svcDotNs string) (types.NamespacedName, bool)
	proxy *httputil.ReverseProxy
	srvs  []*http.Server
	wg    sync.WaitGroup

	mu       sync.Mutex
	backends map[string]*httputil.ReverseProxy // host -> proxy to a fixed address
}

var _ http.Handler = (*ingress)(nil)

func newIngress(activator string, route func(string) (types.NamespacedName, bool)) *ingress {
	target := &url.URL{Scheme: "http", Host: activator}
	in := &ingress{route: route, backends: map[string]*httputil.ReverseProxy{}}
	in.proxy = hostPreservingProxy(target)
	return in
}

// hostPreservingProxy forwards to target, keeping the Host header and every
// other header as they came (no spans, no propagation of its own).
func hostPreservingProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     90 * time.Second,
		},
		FlushInterval: -1,
	}
}

// addBackend routes requests for host (any port) to addr, as a cluster
// Service would (e.g. a channel's or the broker ingress's name).
func (in *ingress) addBackend(host, addr string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.backends[strings.ToLower(host)] = hostPreservingProxy(&url.URL{Scheme: "http", Host: addr})
}

func (in *ingress) backend(host string) (*httputil.ReverseProxy, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, ok := in.backends[strings.TrimSuffix(strings.ToLower(host), ".")]
	return p, ok
}

// hostKey maps a Host header to "<svc>.<ns>".
func hostKey(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, suffix := range []string{".svc.cluster.local", ".svc", ".example.com"} {
		host = strings.TrimSuffix(host, suffix)
	}
	parts := strings.Split(host, ".")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", false
	}
	return host, true
}

func (in *ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b, ok := in.backend(r.Host); ok {
		b.ServeHTTP(w, r)
		return
	}
	key, ok := hostKey(r.Host)
	if !ok {
		http.Error(w, fmt.Sprintf("host %q is not <service>.<namespace>[.svc.cluster.local]", r.Host), http.StatusNotFound)
		return
	}
	rev, ok := in.route(key)
	if !ok {
		http.Error(w, fmt.Sprintf("no ready Knative Service for host %q", r.Host), http.StatusNotFound)
		return
	}
	r.Header.Set(RevisionHeader, rev.Name)
	r.Header.Set(NamespaceHeader, rev.Namespace)
	in.proxy.ServeHTTP(w, r)
}

// listen serves on addr; it fails at once if addr is taken.
func (in *ingress) listen(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("ingress on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: in, ReadHeaderTimeout: 30 * time.Second}
	in.srvs = append(in.srvs, srv)
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		_ = srv.Serve(l)
	}()
	return l.Addr().String(), nil
}

func (in *ingress) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range in.srvs {
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
	}
	in.wg.Wait()
}

// forwarder copies TCP connections from a listener to a fixed address: it
// makes the loopback-only Collector reachable at ServiceIP from pods.
type forwarder struct {
	l    net.Listener
	to   string
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

func startForwarder(listen, to string) (*forwarder, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("forwarder %s -> %s: %w", listen, to, err)
	}
	f := &forwarder{l: l, to: to, open: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

func (f *forwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		if f.open == nil {
			return false
		}
		f.open[c] = struct{}{}
	} else if f.open != nil {
		delete(f.open, c)
	}
	return true
}

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		in, err := f.l.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer in.Close()
			out, err := net.DialTimeout("tcp", f.to, 5*time.Second)
			if err != nil {
				return
			}
			defer out.Close()
			if !f.track(in, true) || !f.track(out, true) {
				return
			}
			defer f.track(in, false)
			defer f.track(out, false)
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(out, in)
			go pipe(in, out)
			<-done
			<-done
		}()
	}
}

func (f *forwarder) stop() {
	if f == nil {
		return
	}
	_ = f.l.Close()
	f.mu.Lock()
	for c := range f.open {
		_ = c.Close()
	}
	f.open = nil
	f.mu.Unlock()
	f.wg.Wait()
}
