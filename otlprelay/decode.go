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
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Content types of OTLP/HTTP.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// payloadError is a request the relay refuses, with the HTTP status to answer.
type payloadError struct {
	status int
	msg    string
}

func (e *payloadError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &payloadError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// isJSON reports whether the content type is OTLP/JSON, or an error (415) for
// a content type OTLP/HTTP does not define.
func isJSON(contentType string) (bool, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		return false, &payloadError{status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("Content-Type %q: %v; want %s or %s", contentType, err, ContentTypeProtobuf, ContentTypeJSON)}
	}
	switch mt {
	case ContentTypeProtobuf, "application/protobuf":
		return false, nil
	case ContentTypeJSON:
		return true, nil
	}
	return false, &payloadError{status: http.StatusUnsupportedMediaType,
		msg: fmt.Sprintf("Content-Type %q is not OTLP: want %s or %s", contentType, ContentTypeProtobuf, ContentTypeJSON)}
}

// decompress returns the body decoded per Content-Encoding, refusing more than
// limit bytes after decompression.
func decompress(body []byte, encoding string, limit int) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		if len(body) > limit {
			return nil, tooLarge(limit)
		}
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, badRequest("Content-Encoding gzip: body is not gzip: %v", err)
		}
		var out bytes.Buffer
		out.Grow(min(limit, 4*len(body)))
		n, err := out.ReadFrom(io.LimitReader(zr, int64(limit)+1))
		if err != nil {
			return nil, badRequest("Content-Encoding gzip: %v", err)
		}
		if n > int64(limit) {
			return nil, tooLarge(limit)
		}
		return out.Bytes(), nil
	}
	return nil, &payloadError{status: http.StatusUnsupportedMediaType,
		msg: fmt.Sprintf("Content-Encoding %q is not supported: want gzip or none", encoding)}
}

func tooLarge(limit int) error {
	return &payloadError{status: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("request body is larger than %d bytes (decompressed); see %s", limit, EnvMaxRequestBytes)}
}

// DecodePayload turns an OTLP/HTTP traces request body into the protobuf
// encoding of ExportTraceServiceRequest, and counts its spans. Protobuf bodies
// are checked and returned as they are; JSON bodies (hex trace and span IDs,
// as OTLP/JSON says) are converted. Errors name what is wrong.
func DecodePayload(body []byte, contentType, contentEncoding string, limit int) (pb []byte, spans int, err error) {
	jsonBody, err := isJSON(contentType)
	if err != nil {
		return nil, 0, err
	}
	raw, err := decompress(body, contentEncoding, limit)
	if err != nil {
		return nil, 0, err
	}
	if jsonBody {
		pb, err = jsonToProto(raw)
		if err != nil {
			return nil, 0, err
		}
	} else {
		pb = raw
	}
	spans, err = CountSpans(pb)
	if err != nil {
		return nil, 0, err
	}
	return pb, spans, nil
}

// CountSpans walks a protobuf ExportTraceServiceRequest without decoding it
// into Go values, checks its wire structure, and counts its spans.
func CountSpans(pb []byte) (int, error) {
	n := 0
	err := walkFields(pb, "ExportTraceServiceRequest", func(num protowire.Number, v []byte) error {
		if num != 1 { // resource_spans
			return nil
		}
		return walkFields(v, "ResourceSpans", func(num protowire.Number, v []byte) error {
			if num != 2 { // scope_spans
				return nil
			}
			return walkFields(v, "ScopeSpans", func(num protowire.Number, v []byte) error {
				if num == 2 { // spans
					n++
					return walkFields(v, "Span", nil)
				}
				return nil
			})
		})
	})
	return n, err
}

// walkFields checks every field of one message and calls fn for each
// length-delimited field.
func walkFields(b []byte, msg string, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return badRequest("protobuf body: %s: bad field tag: %v", msg, protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return badRequest("protobuf body: %s field %d: %v", msg, num, protowire.ParseError(m))
			}
			if fn != nil {
				if err := fn(num, v); err != nil {
					return err
				}
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return badRequest("protobuf body: %s field %d: %v", msg, num, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return nil
}

var jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// jsonToProto converts OTLP/JSON to protobuf. OTLP/JSON encodes trace and span
// IDs in hex where protojson expects base64, so they are rewritten first.
func jsonToProto(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, badRequest("JSON body: %v", err)
	}
	if err := fixIDs(doc); err != nil {
		return nil, err
	}
	fixed, err := json.Marshal(doc)
	if err != nil {
		return nil, badRequest("JSON body: %v", err)
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := jsonUnmarshal.Unmarshal(fixed, &req); err != nil {
		return nil, badRequest("JSON body is not an OTLP ExportTraceServiceRequest: %v", err)
	}
	return proto.Marshal(&req)
}

func fixIDs(doc map[string]any) error {
	for _, rs := range list(doc, "resourceSpans", "resource_spans") {
		for _, ss := range list(rs, "scopeSpans", "scope_spans") {
			for i, sp := range list(ss, "spans") {
				where := fmt.Sprintf("span %d", i)
				if err := hexToBase64(sp, where, 16, "traceId", "trace_id"); err != nil {
					return err
				}
				if err := hexToBase64(sp, where, 8, "spanId", "span_id"); err != nil {
					return err
				}
				if err := hexToBase64(sp, where, 8, "parentSpanId", "parent_span_id"); err != nil {
					return err
				}
				for j, l := range list(sp, "links") {
					lw := fmt.Sprintf("%s link %d", where, j)
					if err := hexToBase64(l, lw, 16, "traceId", "trace_id"); err != nil {
						return err
					}
					if err := hexToBase64(l, lw, 8, "spanId", "span_id"); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// list returns the objects of the array at the first present key.
func list(m map[string]any, keys ...string) []map[string]any {
	for _, k := range keys {
		arr, ok := m[k].([]any)
		if !ok {
			continue
		}
		out := make([]map[string]any, 0, len(arr))
		for _, v := range arr {
			if o, ok := v.(map[string]any); ok {
				out = append(out, o)
			}
		}
		return out
	}
	return nil
}

func hexToBase64(m map[string]any, where string, size int, keys ...string) error {
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return badRequest("JSON body: %s: %s must be a hex string", where, k)
		}
		if s == "" {
			continue
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != size {
			return badRequest("JSON body: %s: %s %q must be %d hex digits", where, k, s, 2*size)
		}
		m[k] = base64.StdEncoding.EncodeToString(b)
	}
	return nil
}
