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
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
)

// run executes the CLI with args and returns the exit code and streams.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestTraceCommandsRefuseBadInput(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"get: not a trace ID", []string{"get", "xyz"}, ExitUsage, `trace ID "xyz"`},
		{"get: too long", []string{"get", strings.Repeat("a", 40)}, ExitUsage, "want 1 to 32 hex digits"},
		{"get: no ID", []string{"get"}, ExitUsage, "accepts 1 arg"},
		{"get: bad output", []string{"get", "abc", "-o", "xml"}, ExitUsage, "json or yaml or html"},
		{"get: narrow width", []string{"get", "abc", "--width", "20"}, ExitUsage, "--width 20"},
		{"list: no service", []string{"list"}, ExitUsage, "accepts 1 arg"},
		{"list: html is not a list format", []string{"list", "hello", "-o", "html"}, ExitUsage, "want json or yaml"},
		{"list: zero limit", []string{"list", "hello", "--limit", "0"}, ExitUsage, "--limit 0"},
		{"list: negative since", []string{"list", "hello", "--since", "-1h"}, ExitUsage, "--since"},
		{"coldstarts: bad output", []string{"coldstarts", "hello", "-o", "table"}, ExitUsage, `-o "table": want json or yaml`},
		{"coldstarts: bad window", []string{"coldstarts", "--since", "1x"}, ExitUsage, `"--since" flag: "1x": want a positive duration such as 30m, 2h or 1d`},
		{"coldstarts: negative window", []string{"coldstarts", "hello", "--since", "-1h"}, ExitUsage, `"--since" flag: "-1h": want a positive duration`},
		{"coldstarts: zero limit", []string{"coldstarts", "--limit", "0"}, ExitUsage, "--limit 0: want 1 to 1000"},
		{"coldstarts: two services", []string{"coldstarts", "hello", "world"}, ExitUsage, "accepts at most 1 arg(s) (SERVICE)"},
		{"coldstarts: empty service", []string{"coldstarts", " "}, ExitUsage, "SERVICE is empty"},
		{"doctor: bad output", []string{"doctor", "-o", "table"}, ExitUsage, "want json or yaml"},
		{"doctor: extra argument", []string{"doctor", "x"}, ExitUsage, "takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestUnreachableJaeger(t *testing.T) {
	addr := closedAddr(t)
	for _, args := range [][]string{{"get", "4bf92f3577b34da6a3ce929d0e0e4736"}, {"list", "hello"}} {
		t.Run(args[0], func(t *testing.T) {
			code, _, stderr := run(t, append(args, "--jaeger", addr, "--timeout", "2s")...)
			if code != ExitFailure || !strings.Contains(stderr, addr) || !strings.Contains(stderr, "unreachable") {
				t.Errorf("exit %d, stderr %q; want exit 1 naming %s as unreachable", code, stderr, addr)
			}
		})
	}
}

func TestJaegerAddressPrecedence(t *testing.T) {
	tests := []struct {
		name, flag, env, want string
	}{
		{"default: the cluster's, through the API server", "", "", ""},
		{"environment", "", "10.0.0.1:16685", "10.0.0.1:16685"},
		{"flag wins", "127.0.0.1:1", "10.0.0.1:16685", "127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := jaegerFlags{addr: tc.flag}
			got := f.address(func(k string) string {
				if k == conventions.EnvJaeger {
					return tc.env
				}
				return ""
			})
			if got != tc.want {
				t.Errorf("address = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTerminalWidthAndColor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name      string
		w         any
		env       map[string]string
		wantWidth int
		wantColor bool
	}{
		{"buffer", &bytes.Buffer{}, nil, jaeger.DefaultWaterfallWidth, false},
		{"COLUMNS", &bytes.Buffer{}, map[string]string{"COLUMNS": "97"}, 97, false},
		{"bad COLUMNS", &bytes.Buffer{}, map[string]string{"COLUMNS": "wide"}, jaeger.DefaultWaterfallWidth, false},
		{"regular file is not a terminal", f, nil, jaeger.DefaultWaterfallWidth, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w.(interface{ Write([]byte) (int, error) })
			if got := terminalWidth(w, env(tc.env)); got != tc.wantWidth {
				t.Errorf("terminalWidth = %d, want %d", got, tc.wantWidth)
			}
			if got := useColor(w, env(tc.env)); got != tc.wantColor {
				t.Errorf("useColor = %v, want %v", got, tc.wantColor)
			}
		})
	}
	// NO_COLOR wins even on a terminal; a pseudo-terminal is not available
	// here, so only the environment side is checked.
	if useColor(os.Stdout, env(map[string]string{"NO_COLOR": "1"})) {
		t.Error("useColor with NO_COLOR set = true")
	}
}

// Every command has an example, and the root's help lists them all.
func TestHelpListsEveryCommandWithExamples(t *testing.T) {
	root := NewRootCommand(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.Example == "" {
			t.Errorf("command %q has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	code, out, _ := run(t, "--help")
	if code != ExitOK {
		t.Fatalf("--help exit %d", code)
	}
	for _, name := range []string{"list", "get", "doctor", "config", "version"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("--help does not list %q:\n%s", name, out)
		}
	}
}
