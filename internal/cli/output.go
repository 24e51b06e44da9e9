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

package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// outputFormat is the value of -o.
type outputFormat string

func parseOutput(s string, allowed ...string) (outputFormat, error) {
	if s == "" {
		return "", nil
	}
	for _, a := range append([]string{"json", "yaml"}, allowed...) {
		if s == a {
			return outputFormat(s), nil
		}
	}
	return "", usageError("-o %q: want json or yaml%s (or nothing for text)", s, extraFormats(allowed))
}

func extraFormats(allowed []string) string {
	s := ""
	for _, a := range allowed {
		s += " or " + a
	}
	return s
}

// writeStructured writes v as JSON or YAML.
func writeStructured(w io.Writer, format outputFormat, v any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unsupported output format %q", format)
}
