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

package jaeger

import (
	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger/jaegertest"
)

var (
	fixtureTraceID = model.TraceID{High: 0x4bf92f3577b34da6, Low: 0xa3ce929d0e0e4736}
	fixtureStart   = jaegertest.Start
)

// fixtureSpan builds a span of the fixture trace; parent 0 means none.
func fixtureSpan(id, parent uint64, p *model.Process, op string, fromMs, toMs float64, tags ...model.KeyValue) *model.Span {
	return jaegertest.Span(fixtureTraceID, id, parent, p, op, fixtureStart, fromMs, toMs, tags...)
}

var (
	process = jaegertest.Process
	ms      = jaegertest.Ms
)

func phase(name string) model.KeyValue { return model.String(coldstart.AttrPhase, name) }

// coldStartTrace is a request to Knative Service "hello" at zero scale as
// kntrace's activator, queue-proxy and app SDK report it: the activator
// waits 1.25 s (pod start, app init, readiness), proxies to the queue-proxy,
// the app reports its own start-up and a failed database call.
func coldStartTrace() *model.Trace {
	act := process("activator", "activator", "knative-serving")
	qp := process("hello", "queue-proxy", "default")
	app := process("hello", "user-container", "default")
	server := model.String("span.kind", "server")
	client := model.String("span.kind", "client")
	spans := []*model.Span{
		fixtureSpan(0xa1, 0, act, "GET /", 0, 1520, server, model.Bool(attrColdStart, true), model.String("http.route", "/")),
		fixtureSpan(0xb1, 0xa1, act, "throttler_try", 1, 1250),
		fixtureSpan(0xb2, 0xb1, act, "kntrace.coldstart.pod_start", 2, 700, phase("pod_start")),
		fixtureSpan(0xb3, 0xb1, act, "kntrace.coldstart.app_init", 700, 1100, phase("app_init")),
		fixtureSpan(0xb4, 0xb1, act, "kntrace.coldstart.readiness", 1100, 1248, phase("readiness")),
		fixtureSpan(0xd1, 0xa1, act, "activator_proxy", 1250, 1519),
		fixtureSpan(0xe1, 0xd1, act, "GET", 1251, 1518, client),
		fixtureSpan(0xf1, 0xe1, qp, "GET /", 1253, 1516, server, model.Bool(attrColdStart, true)),
		fixtureSpan(0xf2, 0xf1, qp, "kn.queueproxy.proxy", 1254, 1515),
		fixtureSpan(0xf3, 0xf2, app, "GET /", 1256, 1510, server, model.Bool(attrColdStart, true)),
		fixtureSpan(0xc1, 0xf3, app, "kntrace.coldstart.app", 300, 1256),
		fixtureSpan(0xc2, 0xc1, app, "kntrace.coldstart.app.init", 300, 1050),
		fixtureSpan(0xc3, 0xc1, app, "kntrace.coldstart.app.wait", 1050, 1256),
		fixtureSpan(0x11, 0xf3, app, "SELECT orders", 1300, 1480, client, model.Bool("error", true),
			model.String("otel.status_code", "ERROR"), model.String("otel.status_description", "dial tcp 10.0.0.7:5432: connection refused")),
	}
	return jaegertest.Trace(spans...)
}
