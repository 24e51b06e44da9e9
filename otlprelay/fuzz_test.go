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

package otlprelay

import (
	"bytes"
	"compress/gzip"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

var contentTypes = []string{ContentTypeProtobuf, ContentTypeJSON, "application/json; charset=utf-8", "text/plain", ""}

// FuzzDecodePayload feeds arbitrary bodies through the relay's decoding: it
// must never panic, and whatever it accepts must be a valid protobuf
// ExportTraceServiceRequest with the span count it reports.
func FuzzDecodePayload(f *testing.F) {
	req := otlpRequest("svc", 3, "a", "b")
	pb, _ := proto.Marshal(req)
	js, _ := otlpJSON(req)
	f.Add(pb, uint8(0), false)
	f.Add(pb, uint8(0), true)
	f.Add(js, uint8(1), false)
	f.Add(js, uint8(2), true)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), uint8(1), false)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, uint8(0), false)
	f.Add([]byte{}, uint8(4), false)
	f.Fuzz(func(t *testing.T, body []byte, ct uint8, gz bool) {
		encoding := ""
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body, encoding = b.Bytes(), "gzip"
		}
		out, spans, err := DecodePayload(body, contentTypes[int(ct)%len(contentTypes)], encoding, 1<<20)
		if err != nil {
			return
		}
		var got coltracepb.ExportTraceServiceRequest
		if uerr := proto.Unmarshal(out, &got); uerr != nil {
			// CountSpans checks the wire structure, not UTF-8 in strings;
			// the collector answers such a payload with a permanent error.
			return
		}
		if n := len(names(&got)); n != spans {
			t.Errorf("DecodePayload counted %d spans, the payload holds %d", spans, n)
		}
	})
}

// FuzzDecodeRawGzip feeds arbitrary bytes as a gzip body.
func FuzzDecodeRawGzip(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, _ = DecodePayload(body, ContentTypeProtobuf, "gzip", 1<<16)
	})
}
