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

// Command podstart is kntrace's receiver of the Kubernetes side of cold
// starts: the kubelet, the container runtime and the API server export
// their spans to it (OTLP/gRPC), it relays them to the collector, and
// writes each cold start the activator reports into the request's trace,
// split into the phases those spans bound. See the podstart package.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/otlprelay"
	"github.com/kntrace/kntrace/podstart"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "podstart:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("podstart", flag.ContinueOnError)
	otlpAddr := fs.String("otlp-address", ":"+strconv.Itoa(conventions.PodstartOTLPPort), "OTLP/gRPC address the kubelet, the runtime and the API server export to")
	reportAddr := fs.String("report-address", ":"+strconv.Itoa(conventions.PodstartReportPort), "HTTP address of the activator's cold-start reports")
	collector := fs.String("collector", "http://"+conventions.CollectorName+"."+conventions.SystemNamespace+".svc.cluster.local:4317", "OTLP/gRPC endpoint of the collector that receives everything")
	wait := fs.Duration("wait", podstart.DefaultWait, "how long a report waits for the Kubernetes components' spans")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	relay, err := otlprelay.New(otlprelay.WithCollector(conventions.ProtocolGRPC, *collector), otlprelay.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("--collector: %w", err)
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(*collector))
	if err != nil {
		return fmt.Errorf("--collector: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("kntrace-podstart"))),
	)
	otlpLn, err := net.Listen("tcp", *otlpAddr)
	if err != nil {
		return fmt.Errorf("--otlp-address: %w", err)
	}
	reportLn, err := net.Listen("tcp", *reportAddr)
	if err != nil {
		return fmt.Errorf("--report-address: %w", err)
	}
	srv := podstart.New(podstart.WithTracerProvider(tp), podstart.WithRelay(relay), podstart.WithWait(*wait), podstart.WithLogger(logger))
	logger.Info("podstart serving", "otlp", otlpLn.Addr().String(), "reports", reportLn.Addr().String(), "collector", *collector)
	serr := srv.Serve(ctx, otlpLn, reportLn)

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = tp.Shutdown(sctx)
	_ = relay.Shutdown(sctx)
	logger.Info("podstart stopped", "stats", fmt.Sprintf("%+v", srv.Stats()), "relay", fmt.Sprintf("%+v", relay.Stats()))
	return serr
}
