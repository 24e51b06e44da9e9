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
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ReferencePath is the generated CLI reference, relative to the repository
// root; hack/docs.sh rewrites it.
const ReferencePath = "docs/cli.md"

// exitCodes documents the exit codes (see the package documentation).
var exitCodes = []struct {
	code    int
	meaning string
}{
	{ExitOK, "success"},
	{ExitFailure, "a failure talking to the cluster or a backend (API server, Jaeger)"},
	{ExitUsage, "invalid usage or input: an unknown flag, a missing argument, a value out of range; nothing was changed"},
	{ExitRefused, "a configuration refused because it would crash Knative or silently disable tracing; nothing was changed"},
	{ExitDiagnose, "`kn trace doctor` found at least one failing check"},
}

// WriteReference writes the Markdown reference of the command tree under
// root: every available command in depth-first order with its use line,
// descriptions, examples and flags with their defaults, the flags every
// command shares, and the exit codes. The output depends only on the
// commands, so a checked-in copy can be compared byte for byte.
func WriteReference(w io.Writer, root *cobra.Command) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	cmds := walk(root)
	rootName := root.Name()

	p("<!-- Generated from the cobra commands in internal/cli by hack/docs.sh; do not edit. -->\n\n")
	p("# `kn trace` command reference\n\n")
	p("%s\n\n", strings.TrimSpace(root.Long))
	p("Every command below runs the same way as `kn trace …` (kn finds the `%s`\n", rootName)
	p("binary on its plugin path) and as `%s …`. Read commands take `-o json|yaml`;\n", rootName)
	p("`--help` on any command prints what this page shows for it.\n\n")

	p("## Commands\n\n")
	for _, c := range cmds[1:] {
		depth := strings.Count(path(c, rootName), " ") - 2
		p("%s- [`%s`](#%s): %s\n", strings.Repeat("  ", depth), path(c, rootName), anchor(path(c, rootName)), c.Short)
	}
	p("\n")

	p("## Flags of every command\n\n")
	writeFlagTable(p, root.PersistentFlags())

	p("## Exit codes\n\n")
	p("| code | meaning |\n|---|---|\n")
	for _, e := range exitCodes {
		p("| %d | %s |\n", e.code, cell(e.meaning))
	}
	p("\n")

	if root.Example != "" {
		p("## Examples\n\n```sh\n%s\n```\n\n", example(root.Example))
	}

	for _, c := range cmds[1:] {
		writeCommand(p, c, rootName)
	}
	p("## Shell completion\n\n")
	p("`%s completion bash|zsh|fish|powershell` prints a completion script (added by\n", rootName)
	p("cobra); `%s completion SHELL --help` says where to install it.\n", rootName)
	return bw.Flush()
}

// walk returns root and every available command under it, depth first, in
// cobra's (alphabetical) order. Cobra's own help and completion commands
// are left out: they are added when the CLI runs, not by NewRootCommand.
func walk(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out = append(out, walk(c)...)
	}
	return out
}

func writeCommand(p func(string, ...any), c *cobra.Command, rootName string) {
	name := path(c, rootName)
	p("## %s\n\n", name)
	p("%s\n\n", c.Short)
	p("```text\n%s\n```\n\n", useLine(c, rootName))
	if c.Long != "" {
		p("%s\n\n", strings.TrimSpace(c.Long))
	}
	var subs []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			subs = append(subs, s)
		}
	}
	if len(subs) > 0 {
		p("Subcommands:\n\n")
		for _, s := range subs {
			p("- [`%s`](#%s): %s\n", path(s, rootName), anchor(path(s, rootName)), s.Short)
		}
		p("\n")
	}
	if c.Example != "" {
		p("Examples:\n\n```sh\n%s\n```\n\n", example(c.Example))
	}
	if c.LocalNonPersistentFlags().HasAvailableFlags() {
		p("Flags:\n\n")
		writeFlagTable(p, c.LocalNonPersistentFlags())
	}
}

// useLine is the command's synopsis: its path, the arguments its Use names
// and [flags], or [command] for a group that only holds subcommands.
func useLine(c *cobra.Command, rootName string) string {
	line := path(c, rootName)
	if _, args, ok := strings.Cut(c.Use, " "); ok {
		line += " " + args
	}
	if !c.Runnable() {
		return line + " [command]"
	}
	return line + " [flags]"
}

// writeFlagTable writes a table of the flags of fs (sorted by name), with the
// type and the default where it is not the type's zero value.
func writeFlagTable(p func(string, ...any), fs *pflag.FlagSet) {
	p("| flag | type | default | description |\n|---|---|---|---|\n")
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		typ, usage := pflag.UnquoteUsage(f)
		if f.Value.Type() == "bool" {
			typ = "bool"
		}
		name := "`--" + f.Name + "`"
		if f.Shorthand != "" {
			name = "`-" + f.Shorthand + "`, " + name
		}
		p("| %s | %s | %s | %s |\n", name, typ, defaultCell(f), cell(usage))
	})
	p("\n")
}

// defaultCell is the flag's default, blank for the zero value of its type
// (the description then says what an unset flag means).
func defaultCell(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "false", "0", "[]":
		return ""
	}
	return "`" + f.DefValue + "`"
}

// path is the command's path with the root spelled as kn runs it.
func path(c *cobra.Command, rootName string) string {
	return "kn trace" + strings.TrimPrefix(c.CommandPath(), rootName)
}

// anchor is the fragment GitHub gives a heading: lower case, spaces to
// dashes, punctuation other than - and _ removed.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// example removes the two-space indent cobra's help puts before examples.
func example(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	return strings.Join(lines, "\n")
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
