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
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/cli.md from the commands (hack/docs.sh)")

func reference(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteReference(&b, NewRootCommand(Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCLIReferenceUpToDate fails when docs/cli.md differs from what the
// commands generate; hack/docs.sh rewrites it.
func TestCLIReferenceUpToDate(t *testing.T) {
	file := filepath.Join("..", "..", filepath.FromSlash(ReferencePath))
	got := reference(t)
	if *updateDocs {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%s: %v: run hack/docs.sh", ReferencePath, err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("%s is out of date: run hack/docs.sh and commit it (-checked in +generated):\n%s", ReferencePath, diff)
	}
	if again := reference(t); !bytes.Equal(got, again) {
		t.Fatal("WriteReference is not deterministic: two runs differ")
	}
}

// TestCLIReferenceCoversEveryCommand: every command kn trace runs has its
// section, every flag its row, and the exit codes match the constants.
func TestCLIReferenceCoversEveryCommand(t *testing.T) {
	doc := string(reference(t))
	root := NewRootCommand(Streams{Out: io.Discard, Err: io.Discard})
	var visit func(*cobra.Command)
	n := 0
	visit = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			n++
			p := path(s, root.Name())
			if !strings.Contains(doc, "\n## "+p+"\n") {
				t.Errorf("no section %q", "## "+p)
			}
			if !strings.Contains(doc, "](#"+anchor(p)+")") {
				t.Errorf("no link to #%s", anchor(p))
			}
			section := doc[strings.Index(doc, "\n## "+p+"\n"):]
			if i := strings.Index(section[1:], "\n## "); i >= 0 {
				section = section[:i+1]
			}
			s.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(section, "`--"+f.Name+"`") {
					t.Errorf("section %s has no row for --%s", p, f.Name)
				}
			})
			visit(s)
		}
	}
	visit(root)
	if n < 10 {
		t.Errorf("walked %d commands, want every one of kn trace's (at least 10)", n)
	}
	for _, f := range []string{"--kubeconfig", "--context"} {
		if !strings.Contains(doc, "| `"+f+"` |") {
			t.Errorf("no row for the global flag %s", f)
		}
	}
	for code := ExitOK; code <= ExitDiagnose; code++ {
		if !regexp.MustCompile(`\n\| ` + string(rune('0'+code)) + ` \| [^|]+`).MatchString(doc) {
			t.Errorf("exit code %d is not documented", code)
		}
	}
}

func TestWriteReference(t *testing.T) {
	root := &cobra.Command{Use: "kn-trace", Short: "root", Long: "The root.", Example: "  kn trace a --x 1"}
	root.PersistentFlags().String("kubeconfig", "", "path")
	a := &cobra.Command{Use: "a ARG", Short: "Do a", Long: "A does a.", Example: "  kn trace a b\n  kn trace a c --x 2",
		Run: func(*cobra.Command, []string) {}}
	a.Flags().IntP("x", "x", 3, "a number | or two")
	a.Flags().Bool("quiet", false, "say less")
	a.Flags().Duration("since", time.Hour, "how far back")
	a.Flags().String("secret", "", "hidden")
	if err := a.Flags().MarkHidden("secret"); err != nil {
		t.Fatal(err)
	}
	grp := &cobra.Command{Use: "grp", Short: "A group"}
	sub := &cobra.Command{Use: "sub", Short: "Sub of grp", Run: func(*cobra.Command, []string) {}}
	hidden := &cobra.Command{Use: "internal", Short: "not for users", Hidden: true, Run: func(*cobra.Command, []string) {}}
	grp.AddCommand(sub)
	root.AddCommand(a, grp, hidden)

	var b bytes.Buffer
	if err := WriteReference(&b, root); err != nil {
		t.Fatal(err)
	}
	want := "<!-- Generated from the cobra commands in internal/cli by hack/docs.sh; do not edit. -->\n\n" +
		"# `kn trace` command reference\n\nThe root.\n\n" +
		"Every command below runs the same way as `kn trace …` (kn finds the `kn-trace`\n" +
		"binary on its plugin path) and as `kn-trace …`. Read commands take `-o json|yaml`;\n" +
		"`--help` on any command prints what this page shows for it.\n\n" +
		"## Commands\n\n" +
		"- [`kn trace a`](#kn-trace-a): Do a\n" +
		"- [`kn trace grp`](#kn-trace-grp): A group\n" +
		"  - [`kn trace grp sub`](#kn-trace-grp-sub): Sub of grp\n\n" +
		"## Flags of every command\n\n" +
		"| flag | type | default | description |\n|---|---|---|---|\n" +
		"| `--kubeconfig` | string |  | path |\n\n" +
		"## Exit codes\n\n| code | meaning |\n|---|---|\n" +
		"| 0 | success |\n" +
		"| 1 | a failure talking to the cluster or a backend (API server, Jaeger) |\n" +
		"| 2 | invalid usage or input: an unknown flag, a missing argument, a value out of range; nothing was changed |\n" +
		"| 3 | a configuration refused because it would crash Knative or silently disable tracing; nothing was changed |\n" +
		"| 4 | `kn trace doctor` found at least one failing check |\n\n" +
		"## Examples\n\n```sh\nkn trace a --x 1\n```\n\n" +
		"## kn trace a\n\nDo a\n\n```text\nkn trace a ARG [flags]\n```\n\nA does a.\n\n" +
		"Examples:\n\n```sh\nkn trace a b\nkn trace a c --x 2\n```\n\n" +
		"Flags:\n\n| flag | type | default | description |\n|---|---|---|---|\n" +
		"| `--quiet` | bool |  | say less |\n" +
		"| `--since` | duration | `1h0m0s` | how far back |\n" +
		"| `-x`, `--x` | int | `3` | a number \\| or two |\n\n" +
		"## kn trace grp\n\nA group\n\n```text\nkn trace grp [command]\n```\n\n" +
		"Subcommands:\n\n- [`kn trace grp sub`](#kn-trace-grp-sub): Sub of grp\n\n" +
		"## kn trace grp sub\n\nSub of grp\n\n```text\nkn trace grp sub [flags]\n```\n\n" +
		"## Shell completion\n\n" +
		"`kn-trace completion bash|zsh|fish|powershell` prints a completion script (added by\n" +
		"cobra); `kn-trace completion SHELL --help` says where to install it.\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteReference (-want +got):\n%s", diff)
	}
}

// TestDocExamplesRun parses every `kn trace …` command shown in the
// documentation (code blocks and inline code of docs/*.md and README.md) as
// the CLI would: each must name a command that exists, with flags it has and
// values they accept; in code blocks the positional arguments must also be
// what the command takes.
func TestDocExamplesRun(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range docCommands(string(data)) {
			checked++
			name := filepath.Base(file) + ":" + ex.line
			if err := runsAsWritten(ex.words, ex.block); err != nil {
				t.Errorf("%s: `%s`: %v", name, strings.Join(ex.words, " "), err)
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked %d commands in the docs, want the examples of every page (at least 20)", checked)
	}
}

type docCommand struct {
	line  string
	words []string // after "kn trace"
	block bool     // in a code block (arguments are checked too)
}

var inlineCode = regexp.MustCompile("`(kn trace [^`]+)`")

// docCommands finds the kn trace commands in Markdown text: lines of code
// blocks (except ```text blocks, which show synopses with placeholders) and
// inline code spans without an ellipsis.
func docCommands(md string) []docCommand {
	var out []docCommand
	inFence, check := false, false
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "```") {
			inFence = !inFence
			check = inFence && t != "```text"
			continue
		}
		lineNo := strconv.Itoa(i + 1)
		if inFence {
			if !check {
				continue
			}
			s := strings.TrimPrefix(strings.TrimSpace(l), "$ ")
			for strings.HasSuffix(s, `\`) && i+1 < len(lines) {
				i++
				s = strings.TrimSuffix(s, `\`) + " " + strings.TrimSpace(lines[i])
			}
			if w := shellWords(s); len(w) >= 2 && w[0] == "kn" && w[1] == "trace" {
				out = append(out, docCommand{line: lineNo, words: w[2:], block: true})
			}
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(l, -1) {
			if w := shellWords(m[1]); len(w) >= 2 && !strings.Contains(m[1], "…") {
				out = append(out, docCommand{line: lineNo, words: w[2:]})
			}
		}
	}
	return out
}

// shellWords splits a shell line into words, honouring quotes, up to the
// first comment, pipe, redirection or command separator.
func shellWords(s string) []string {
	var (
		words []string
		cur   strings.Builder
		quote rune
		have  bool
	)
	flush := func() {
		if have {
			words = append(words, cur.String())
		}
		cur.Reset()
		have = false
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, have = r, true
		case r == ' ' || r == '\t':
			flush()
		case (r == '#' && !have) || r == '|' || r == '>' || r == ';' || r == '&':
			flush()
			return words
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	flush()
	return words
}

// runsAsWritten resolves words to a command of a fresh kn trace and parses
// its flags (and, when args is true, validates its positional arguments).
func runsAsWritten(words []string, args bool) error {
	root := NewRootCommand(Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	c, rest, err := root.Find(words)
	if err != nil {
		return err
	}
	if err := c.ParseFlags(rest); err != nil {
		return err
	}
	positional := c.Flags().Args()
	switch {
	case !c.Runnable() && len(positional) > 0:
		return fmt.Errorf("%s has no subcommand %q", c.CommandPath(), positional[0])
	case args && c.Runnable():
		return c.ValidateArgs(positional)
	}
	return nil
}

var (
	mdLink  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	testRef = regexp.MustCompile("\\]\\(([^)\\s]+_test\\.go)\\)((?:[ ,;]*`(?:Test|Fuzz|Benchmark)\\w+`)+)")
	funcRef = regexp.MustCompile("`((?:Test|Fuzz|Benchmark)\\w+)`")
)

// TestDocLinks: every relative link in docs/*.md and README.md points at a
// file that exists, and every test named after a link to a _test.go file
// (the proofs in upstream.md and elsewhere) is a function of that file.
func TestDocLinks(t *testing.T) {
	repo := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(repo, "README.md"))
	refs := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(file)
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(target))); err != nil {
				t.Errorf("%s: link %s: %v", filepath.Base(file), m[1], err)
			}
		}
		for _, m := range testRef.FindAllStringSubmatch(string(data), -1) {
			src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m[1])))
			if err != nil {
				continue // reported above
			}
			for _, f := range funcRef.FindAllStringSubmatch(m[2], -1) {
				refs++
				if !regexp.MustCompile(`(?m)^func ` + f[1] + `\(`).Match(src) {
					t.Errorf("%s: %s has no func %s", filepath.Base(file), m[1], f[1])
				}
			}
		}
	}
	if refs < 30 {
		t.Errorf("found %d test references in the docs, want the proofs of upstream.md and the other pages (at least 30)", refs)
	}
}
