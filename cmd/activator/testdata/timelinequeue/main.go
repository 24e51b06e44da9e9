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

// Command timelinequeue is a stand-in for a revision's queue-proxy in the
// activator's process tests: real HTTP on QUEUE_SERVING_PORT, answering the
// kubelet's readiness probe and the activator's network probe
// (K-Network-Probe: queue) once the app's port accepts connections, and
// proxying everything else to the app on USER_PORT. It reports its
// cold-start timeline (coldstart.Header) on the first request, as
// kntrace's queue-proxy does, so the activator's cold-start phases can be
// seen with a real activator, a real pod start and a real app. It records
// no spans and has none of the queue-proxy's other duties.
package main

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kntrace/kntrace/coldstart"
)

func main() {
	port, user := os.Getenv("QUEUE_SERVING_PORT"), os.Getenv("USER_PORT")
	if port == "" || user == "" {
		log.Fatal("QUEUE_SERVING_PORT and USER_PORT must be set")
	}
	timeline := coldstart.NewTimeline()
	app := "127.0.0.1:" + user
	target := &url.URL{Scheme: "http", Host: app}
	proxy := httputil.NewSingleHostReverseProxy(target)

	appReady := func() bool {
		c, err := net.DialTimeout("tcp", app, 100*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		timeline.MarkReady()
		return true
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("K-Network-Probe") == "queue" || strings.HasPrefix(r.Header.Get("User-Agent"), "kube-probe/") {
			if !appReady() {
				http.Error(w, "app not ready", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("queue"))
			return
		}
		if timeline.ClaimFirstRequest(time.Now()) {
			w.Header().Set(coldstart.Header, timeline.HeaderValue())
		}
		proxy.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
