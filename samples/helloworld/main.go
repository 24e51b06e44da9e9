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

// Command helloworld answers "Hello, <greeting>!" after asking the greeter
// service for the greeting, so a trace has depth: ingress → activator →
// queue-proxy → helloworld → (activator → queue-proxy →) greeter.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/kntrace/kntrace/appsdk"
)

func main() {
	sdk, err := appsdk.Start(context.Background(), appsdk.WithSignalDrain(5*time.Second))
	if err != nil {
		log.Print(err)
	}
	greeter := os.Getenv("GREETER_URL")
	if greeter == "" {
		greeter = "http://greeter.default.svc.cluster.local"
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(sdk.TracerProvider()), otelhttp.WithPropagators(sdk.Propagator())),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, greeter+"/greet", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "greeter: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		greeting, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("greeter: %s: %s", resp.Status, greeting), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "Hello, %s!\n", greeting)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	sdk.MarkReady()
	srv := &http.Server{Addr: ":" + port, Handler: sdk.Handler(mux, "helloworld"), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
