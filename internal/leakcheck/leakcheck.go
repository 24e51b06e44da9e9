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

// Package leakcheck holds the goroutines kntrace's goroutine-leak checks
// (go.uber.org/goleak) allow to outlive a test, with the reason for each,
// so every long-lived package checks against the same list.
package leakcheck

import "go.uber.org/goleak"

// IdleHTTP ignores the goroutines of idle keep-alive connections: net/http's
// and x/net/http2's clients keep them after a request by design, and a
// client's pool outlives the test that used it.
func IdleHTTP() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("golang.org/x/net/http2.(*clientConnReadLoop).run"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	}
}

// KnativeProcess also ignores what loading knative.dev/pkg and client-go
// starts for the life of the process (klog's flush daemon, OpenCensus'
// view worker, client-go's workqueue metrics loop).
func KnativeProcess() []goleak.Option {
	return append(IdleHTTP(),
		goleak.IgnoreAnyFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("k8s.io/client-go/util/workqueue.(*Typed[...]).updateUnfinishedWorkLoop"),
	)
}
