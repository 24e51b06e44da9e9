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

// Command consumer receives CloudEvents from a Trigger. Its "process" span
// continues the delivery's trace (the broker's headers) and links to the
// producer's starting context from the event's distributed-tracing
// extension. It can scale to zero: the first event after idle is a cold
// start.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.opentelemetry.io/otel"

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
	tracer := otel.Tracer("github.com/kntrace/kntrace/samples/eventing/consumer")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
			return
		}
		// The server span of sdk.Handler already continues the headers'
		// trace: the process span is its child and links to the producer.
		_, span := prop.StartConsumerSpan(r.Context(), tracer, *e, http.Header{})
		log.Printf("received %s %s from %s", e.Type(), e.ID(), e.Source())
		span.End()
		w.WriteHeader(http.StatusAccepted)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	sdk.MarkReady()
	srv := &http.Server{Addr: ":" + port, Handler: sdk.Handler(mux, "consumer"), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
