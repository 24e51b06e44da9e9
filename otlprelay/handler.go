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
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP accepts one OTLP/HTTP export request.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.reject(w, false, http.StatusMethodNotAllowed, "method "+req.Method+" not allowed: OTLP/HTTP uses POST")
		return
	}
	jsonReq, err := isJSON(req.Header.Get("Content-Type"))
	if err != nil {
		r.reject(w, false, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4*r.cfg.maxRequestBytes {
			buf.Reset()
			bodyPool.Put(buf)
		}
	}()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(req.Body, int64(r.cfg.maxRequestBytes)+1)); err != nil {
		r.reject(w, jsonReq, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if buf.Len() > r.cfg.maxRequestBytes {
		r.reject(w, jsonReq, http.StatusRequestEntityTooLarge, tooLarge(r.cfg.maxRequestBytes).Error())
		return
	}
	pb, spans, err := DecodePayload(buf.Bytes(), req.Header.Get("Content-Type"), req.Header.Get("Content-Encoding"), r.cfg.maxRequestBytes)
	if err != nil {
		code := http.StatusBadRequest
		var pe *payloadError
		if errors.As(err, &pe) {
			code = pe.status
		}
		r.reject(w, jsonReq, code, err.Error())
		return
	}
	result := enqueueOK
	if len(pb) > 0 {
		if &pb[0] == &buf.Bytes()[0] {
			pb = bytes.Clone(pb) // the pooled buffer is reused
		}
		result = r.enqueue(pb, spans)
	}
	switch result {
	case enqueueFull:
		if r.loggedFull.CompareAndSwap(false, true) {
			r.cfg.logger.Warn("relay queue full, answering 429 with Retry-After (logged once)", "max_bytes", r.cfg.maxBytes)
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(r.cfg.retryAfter/time.Second)))
		r.reject(w, jsonReq, http.StatusTooManyRequests, fmt.Sprintf("relay queue full (%d bytes, %s): retry later", r.cfg.maxBytes, EnvMaxBytes))
		return
	case enqueueClosed:
		w.Header().Set("Retry-After", strconv.Itoa(int(r.cfg.retryAfter/time.Second)))
		r.reject(w, jsonReq, http.StatusServiceUnavailable, "relay shutting down")
		return
	}
	if jsonReq {
		w.Header().Set("Content-Type", ContentTypeJSON)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{}"))
		return
	}
	w.Header().Set("Content-Type", ContentTypeProtobuf)
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
}

// reject answers an error with a google.rpc.Status body, as OTLP/HTTP says.
func (r *Relay) reject(w http.ResponseWriter, jsonReq bool, code int, msg string) {
	r.mu.Lock()
	r.stats.RejectedRequests++
	r.mu.Unlock()
	st := &spb.Status{Code: grpcCodeFor(code), Message: msg}
	var body []byte
	if jsonReq {
		w.Header().Set("Content-Type", ContentTypeJSON)
		body, _ = protojson.Marshal(st)
	} else {
		w.Header().Set("Content-Type", ContentTypeProtobuf)
		body, _ = proto.Marshal(st)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func grpcCodeFor(httpCode int) int32 {
	switch httpCode {
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	case http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	}
	return 3 // INVALID_ARGUMENT
}
