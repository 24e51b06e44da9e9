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

// Command producer sends one CloudEvent to a Broker per HTTP request. The
// event carries the request's trace in the traceparent header (for the next
// hop) and in the CloudEvents distributed-tracing extension (naming the trace
// that started it).
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/appsdk"
	"github.com/kntrace/kntrace/propagation"
)

func main() {
	sdk, err := appsdk.Start(context.Background(), appsdk.WithSignalDrain(5*time.Second))
	if err != nil {
		log.Print(err)
	}
	prop, ok := sdk.Propagator().(*propagation.Propagator)
	if !ok {
		prop = propagation.New()
	}
	sink := os.Getenv("BROKER_URL")
	if sink == "" {
		sink = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default"
	}
	client, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(sink))
	if err != nil {
		log.Fatal(err)
	}
	tracer := otel.Tracer("github.com/kntrace/kntrace/samples/eventing/producer")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e := cloudevents.NewEvent()
		e.SetID(uuid.NewString())
		e.SetType("dev.kntrace.samples.greeting")
		e.SetSource("/samples/eventing/producer")
		if err := e.SetData(cloudevents.ApplicationJSON, map[string]string{"greeting": "hello"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ctx, span := tracer.Start(r.Context(), "send "+e.Type(), trace.WithSpanKind(trace.SpanKindProducer))
		defer span.End()
		if res := client.Send(prop.ProducerContext(ctx, &e), e); !cloudevents.IsACK(res) {
			http.Error(w, fmt.Sprintf("send to %s: %v", sink, res), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, e.ID())
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	sdk.MarkReady()
	srv := &http.Server{Addr: ":" + port, Handler: sdk.Handler(mux, "producer"), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
