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

package podstart

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/kntrace/kntrace/coldstart"
)

// Serve serves OTLP/gRPC on otlp, the reports (coldstart.ReportPath) and
// a readiness check (/readyz) on reports, and records cold starts, until
// ctx is done; then it stops both servers gracefully.
func (s *Server) Serve(ctx context.Context, otlp, reports net.Listener) error {
	g := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(g, s)
	mux := http.NewServeMux()
	mux.Handle(coldstart.ReportPath, s)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 3)
	go func() { errc <- g.Serve(otlp) }()
	go func() { errc <- hs.Serve(reports) }()
	go func() { errc <- s.Run(ctx) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	g.GracefulStop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
