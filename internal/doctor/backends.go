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

package doctor

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/tunnel"
	"github.com/kntrace/kntrace/jaeger"
)

// collector probes the collector the configuration names (or --collector).
func (d *doctor) collector(ctx context.Context) {
	const name = "collector"
	endpoint, protocol, source := d.opts.Collector, "", "--collector"
	if endpoint == "" {
		for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
			st := d.statuses[ns]
			if st == nil || st.Observability == nil || st.Observability.Endpoint == "" || len(configmaps.Errors(st.Problems)) > 0 {
				continue
			}
			endpoint, protocol, source = st.Observability.Endpoint, st.Observability.Protocol, ns+"/"+st.ConfigMap
			break
		}
	}
	if endpoint == "" {
		d.report.add(name, StatusWarn, "configure an endpoint (kn trace config set) or pass --collector HOST:PORT", "no usable collector endpoint configured: not probed")
		return
	}
	u, hostport, err := collectorAddress(endpoint, protocol)
	if err != nil {
		d.report.add(name, StatusFail, "pass --collector as a URL (http://HOST:4317) or HOST:PORT", "%s (from %s): %v", endpoint, source, err)
		return
	}
	via := ""
	host, _, _ := net.SplitHostPort(hostport)
	if clusterOnly(host) {
		if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
			target, ok := tunnel.ParseTarget(hostport)
			if !ok || d.opts.Tunnel == nil {
				d.report.add(name, StatusWarn, "kubectl port-forward the collector's Service and pass --collector 127.0.0.1:PORT",
					"%s (from %s) resolves only inside the cluster: not probed from here", endpoint, source)
				return
			}
			tun, err := d.opts.Tunnel(ctx, target)
			if err != nil {
				d.report.add(name, StatusFail, "check the collector's Deployment in "+target.Namespace+" (kubectl -n "+target.Namespace+" get pods), or pass --collector",
					"%s (from %s) is not reachable through the API server: %v", endpoint, source, err)
				return
			}
			defer tun.Close()
			hostport, via = tun.Addr, fmt.Sprintf(" through the API server (pod %s)", tun.Pod)
			if u != nil {
				u.Host = tun.Addr
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostport)
	if err != nil {
		d.report.add(name, StatusFail, "start the collector or fix the endpoint; from outside the cluster port-forward it and pass --collector",
			"%s (from %s) is not reachable: %v", hostport, source, err)
		return
	}
	conn.Close()
	if u != nil && protocol == configmaps.ProtocolHTTPProtobuf {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(nil))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				d.report.add(name, StatusFail, "check the scheme (http vs https) and that the collector's OTLP/HTTP receiver listens there", "POST %s: %v", u, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				d.report.add(name, StatusFail, "use the OTLP traces path, usually /v1/traces", "POST %s: 404: no OTLP/HTTP receiver at this path", u)
				return
			}
		}
	}
	shown := hostport
	if via != "" {
		shown = endpoint
	}
	d.report.add(name, StatusPass, "", "%s (from %s) accepts connections%s", shown, source, via)
}

// collectorAddress reads a URL or host:port; the port defaults to 4317 for
// gRPC, 4318 for OTLP/HTTP over http and 443 over https.
func collectorAddress(endpoint, protocol string) (*url.URL, string, error) {
	if !strings.Contains(endpoint, "://") {
		host, port, err := net.SplitHostPort(endpoint)
		if err != nil {
			return nil, "", fmt.Errorf("want a URL or host:port: %v", err)
		}
		return nil, net.JoinHostPort(host, port), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return nil, "", fmt.Errorf("not a URL with a host")
	}
	port := u.Port()
	if port == "" {
		switch {
		case u.Scheme == "https":
			port = "443"
		case protocol == configmaps.ProtocolHTTPProtobuf:
			port = "4318"
		default:
			port = "4317"
		}
	}
	return u, net.JoinHostPort(u.Hostname(), port), nil
}

// clusterOnly: a Service name (one label, or ending in .svc or
// .svc.cluster.local) that normally resolves only inside the cluster.
func clusterOnly(host string) bool {
	if net.ParseIP(host) != nil || host == "localhost" {
		return false
	}
	h := strings.TrimSuffix(host, ".")
	return !strings.Contains(h, ".") || strings.HasSuffix(h, ".svc") || strings.HasSuffix(h, ".svc.cluster.local") || strings.Count(h, ".") == 1
}

func (d *doctor) jaeger(ctx context.Context) {
	addr, where := d.opts.Jaeger, d.opts.Jaeger
	if addr == "" && d.opts.Tunnel != nil {
		tun, err := d.opts.Tunnel(ctx, d.opts.JaegerService)
		if err != nil {
			d.report.add("jaeger", StatusFail,
				"install Jaeger (ko apply -Rf config/), point --jaeger-service at yours, or pass --jaeger HOST:PORT (or set $"+conventions.EnvJaeger+")",
				"%s is not reachable through the API server: %v", d.opts.JaegerService, err)
			return
		}
		defer tun.Close()
		addr, where = tun.Addr, fmt.Sprintf("%s (through the API server, pod %s)", d.opts.JaegerService, tun.Pod)
	}
	c, err := jaeger.Dial(ctx, addr, jaeger.WithDialTimeout(d.opts.Timeout), jaeger.WithCallTimeout(d.opts.Timeout))
	if err != nil {
		d.report.add("jaeger", StatusFail,
			"check Jaeger's query port, or pass --jaeger HOST:PORT (or set $"+conventions.EnvJaeger+")",
			"%v", err)
		return
	}
	defer c.Close()
	services, err := c.Services(ctx)
	if err != nil {
		d.report.add("jaeger", StatusFail, "check Jaeger's logs", "%v", err)
		return
	}
	d.report.add("jaeger", StatusPass, "", "query API at %s answers (%d services)", where, len(services))
}
