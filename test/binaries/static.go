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

package binaries

import (
	"debug/elf"
	"fmt"
)

// RequireStatic returns an error when the executable at path needs a
// dynamic loader (an ELF PT_INTERP program header): everything compared or
// put in an image here is built as ko builds, with CGO_ENABLED=0.
func RequireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is linked dynamically (it has a PT_INTERP program header): build it with CGO_ENABLED=0, as ko and hack/tools.sh do", path)
		}
	}
	return nil
}
