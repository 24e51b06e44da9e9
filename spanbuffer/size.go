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

package spanbuffer

import (
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Size estimates, in bytes, of the parts of a span held in memory.
const (
	spanOverhead  = 400 // the SDK's span snapshot: IDs, times, status, slices' headers
	eventOverhead = 64
	linkOverhead  = 80
	attrOverhead  = 48 // attribute.KeyValue
)

// SpanSize estimates the memory a finished span holds: its name, attributes,
// events and links, plus fixed overheads. The resource and instrumentation
// scope are shared by all spans of a provider and are not counted.
func SpanSize(s sdktrace.ReadOnlySpan) int {
	n := spanOverhead + len(s.Name()) + len(s.Status().Description) + attrsSize(s.Attributes())
	for _, e := range s.Events() {
		n += eventOverhead + len(e.Name) + attrsSize(e.Attributes)
	}
	for _, l := range s.Links() {
		n += linkOverhead + attrsSize(l.Attributes)
	}
	return n
}

func attrsSize(kvs []attribute.KeyValue) int {
	n := 0
	for i := range kvs {
		n += attrOverhead + len(kvs[i].Key)
		v := &kvs[i].Value
		switch v.Type() {
		case attribute.STRING:
			n += len(v.AsString())
		case attribute.STRINGSLICE:
			for _, s := range v.AsStringSlice() {
				n += 16 + len(s)
			}
		case attribute.BOOLSLICE:
			n += len(v.AsBoolSlice())
		case attribute.INT64SLICE:
			n += 8 * len(v.AsInt64Slice())
		case attribute.FLOAT64SLICE:
			n += 8 * len(v.AsFloat64Slice())
		}
	}
	return n
}
