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

package otlprelay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/conventions"
)

// forwarder sends one protobuf ExportTraceServiceRequest to the collector.
type forwarder interface {
	forward(ctx context.Context, payload []byte) error
	close() error
}

// permanentError is a collector's refusal that retrying will not change.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryAfterError is a retryable refusal with the collector's Retry-After.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

func newForwarder(protocol string, endpoint string, headers map[string]string) (forwarder, error) {
	if endpoint == "" {
		return nil, errors.New("relay: no collector endpoint: use WithCollector (Knative's tracing-endpoint and tracing-protocol)")
	}
	switch protocol {
	case conventions.ProtocolGRPC:
		return newGRPCForwarder(endpoint, headers)
	case conventions.ProtocolHTTPProtobuf, "http", "":
		return newHTTPForwarder(endpoint, headers)
	}
	return nil, fmt.Errorf("relay: protocol %q: want %q or %q", protocol, conventions.ProtocolGRPC, conventions.ProtocolHTTPProtobuf)
}

type httpForwarder struct {
	url     string
	headers map[string]string
	client  *http.Client
}

func newHTTPForwarder(endpoint string, headers map[string]string) (*httpForwarder, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("relay: http/protobuf endpoint %q: want a URL such as http://collector:4318/v1/traces", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = conventions.TracesPath
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	return &httpForwarder{url: u.String(), headers: headers, client: &http.Client{Transport: tr}}, nil
}

func (f *httpForwarder) forward(ctx context.Context, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Content-Type", ContentTypeProtobuf)
	for k, v := range f.headers {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", f.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout:
		err := fmt.Errorf("POST %s: %s", f.url, resp.Status)
		if after := backoff.RetryAfter(resp.Header, time.Now()); after > 0 {
			return &retryAfterError{err: err, after: after}
		}
		return err
	}
	return &permanentError{fmt.Errorf("POST %s: %s: %s", f.url, resp.Status, strings.TrimSpace(string(body)))}
}

func (f *httpForwarder) close() error {
	f.client.CloseIdleConnections()
	return nil
}

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

type grpcForwarder struct {
	target string
	conn   *grpc.ClientConn
	md     metadata.MD
}

func newGRPCForwarder(endpoint string, headers map[string]string) (*grpcForwarder, error) {
	target, creds := endpoint, insecure.NewCredentials()
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("relay: grpc endpoint %q: want http://host:port or https://host:port", endpoint)
		}
		target = u.Host
		if u.Scheme == "https" {
			creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
		}
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return nil, fmt.Errorf("relay: grpc endpoint %q: %w", endpoint, err)
	}
	md := metadata.MD{}
	for k, v := range headers {
		md.Set(k, v)
	}
	return &grpcForwarder{target: target, conn: conn, md: md}, nil
}

func (f *grpcForwarder) forward(ctx context.Context, payload []byte) error {
	if len(f.md) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, f.md)
	}
	var reply []byte
	err := f.conn.Invoke(ctx, exportMethod, &payload, &reply)
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange,
		codes.Unavailable, codes.DataLoss, codes.ResourceExhausted:
		return fmt.Errorf("export to %s: %w", f.target, err)
	}
	return &permanentError{fmt.Errorf("export to %s: %w", f.target, err)}
}

func (f *grpcForwarder) close() error { return f.conn.Close() }

// rawCodec sends and receives protobuf bytes as they are: the relay's queue
// already holds encoded ExportTraceServiceRequests.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("relay: raw codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("relay: raw codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}
