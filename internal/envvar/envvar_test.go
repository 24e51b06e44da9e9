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

package envvar

import (
	"testing"
	"time"
)

func TestPositiveInt(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    int
		ok      bool
		wantErr bool
	}{
		{name: "unset", value: ""},
		{name: "set", value: "42", want: 42, ok: true},
		{name: "zero", value: "0", wantErr: true},
		{name: "negative", value: "-3", wantErr: true},
		{name: "not a number", value: "1MiB", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok, err := PositiveInt(func(string) string { return tc.value }, "KNTRACE_X")
			if n != tc.want || ok != tc.ok || (err != nil) != tc.wantErr {
				t.Errorf("PositiveInt = %d, %v, %v; want %d, %v, error %v", n, ok, err, tc.want, tc.ok, tc.wantErr)
			}
		})
	}
	if _, _, err := PositiveInt(func(string) string { return "x" }, "KNTRACE_X"); err == nil || err.Error() != `KNTRACE_X="x": want a positive integer; using the default` {
		t.Errorf("error %v does not name the variable and what it accepts", err)
	}
	if d, ok, err := Millis(func(string) string { return "250" }, "X"); d != 250*time.Millisecond || !ok || err != nil {
		t.Errorf("Millis = %v, %v, %v", d, ok, err)
	}
}
