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

// Command greeter returns a greeting; helloworld calls it.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/kntrace/kntrace/appsdk"
)

func main() {
	sdk, err := appsdk.Start(context.Background(), appsdk.WithSignalDrain(5*time.Second))
	if err != nil {
		log.Print(err)
	}
	tracer := otel.Tracer("github.com/kntrace/kntrace/samples/helloworld/greeter")
	mux := http.NewServeMux()
	mux.HandleFunc("/greet", func(w http.ResponseWriter, r *http.Request) {
		_, span := tracer.Start(r.Context(), "compose greeting")
		greeting := os.Getenv("GREETING")
		if greeting == "" {
			greeting = "Knative"
		}
		span.End()
		_, _ = w.Write([]byte(greeting))
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	sdk.MarkReady()
	srv := &http.Server{Addr: ":" + port, Handler: sdk.Handler(mux, "greeter"), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
