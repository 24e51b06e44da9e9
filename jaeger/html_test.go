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

package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"golang.org/x/net/html"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger/jaegertest"
)

func htmlOf(t *testing.T) ([]byte, *Trace) {
	t.Helper()
	tr, err := Build(coldStartTrace())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, tr); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), tr
}

// The page carries the trace as JSON and loads nothing from elsewhere.
func TestHTMLSelfContained(t *testing.T) {
	page, tr := htmlOf(t)
	for _, re := range []string{`(?i)<link\b`, `(?i)\bsrc\s*=`, `(?i)@import`, `(?i)url\(`, `(?i)https?://`, `(?i)<iframe`} {
		if loc := regexp.MustCompile(re).FindIndex(page); loc != nil {
			t.Errorf("page refers to an external asset (%s): %q", re, page[max(loc[0]-40, 0):min(loc[1]+40, len(page))])
		}
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	data := findByID(doc, "trace-data")
	if data == nil || data.FirstChild == nil {
		t.Fatal("no trace-data script")
	}
	var got Trace
	if err := json.Unmarshal([]byte(data.FirstChild.Data), &got); err != nil {
		t.Fatalf("embedded trace is not JSON: %v", err)
	}
	if got.TraceID != tr.TraceID || len(got.Spans) != tr.SpanCount {
		t.Errorf("embedded trace = %s with %d spans, want %s with %d", got.TraceID, len(got.Spans), tr.TraceID, tr.SpanCount)
	}
}

// A span name that closes the script element stays data.
func TestHTMLEscapesSpanData(t *testing.T) {
	p := process("svc</script><script>alert(1)</script>", "c", "ns")
	tr, err := Build(&model.Trace{Spans: []*model.Span{fixtureSpan(1, 0, p, "</script><b>x", 0, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, tr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "</script><b>") || strings.Contains(b.String(), "<script>alert") {
		t.Errorf("span data breaks out of the script element:\n%s", b.String())
	}
}

func findByID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findByID(c, id); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

func walkNodes(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walkNodes(c, f)
	}
}

// chromium runs Debian's chromium headless with args and returns stdout;
// every process it starts is killed when ctx ends.
func chromium(t *testing.T, ctx context.Context, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run hack/apt.sh --with-chromium (Debian package chromium)")
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // renderer or GPU helpers left behind
	}
	if err != nil {
		t.Fatalf("chromium %v: %v (ctx: %v)\n%s", args, err, ctx.Err(), stderr.String())
	}
	return stdout.Bytes()
}

// rendered is a page as Debian's chromium drew it in a 1200x800 window.
type rendered struct {
	file      string
	dom       []byte
	body      *html.Node
	rows      []*html.Node
	pageWidth int
	// bars are the span rows' bars in pixels, by span ID.
	bars map[string]bar
}

type bar struct{ left, right int }

// renderInChromium writes page to a file in dir and dumps the DOM chromium
// renders from it; it checks that the script drew one row per span of tr,
// in tree order, each with a bar inside the page.
func renderInChromium(t *testing.T, ctx context.Context, dir string, page []byte, tr *Trace) rendered {
	t.Helper()
	r := rendered{file: filepath.Join(dir, "trace.html"), bars: map[string]bar{}}
	if err := os.WriteFile(r.file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	r.dom = chromium(t, ctx, "--window-size=1200,800", "--dump-dom", "file://"+r.file)
	doc, err := html.Parse(bytes.NewReader(r.dom))
	if err != nil {
		t.Fatal(err)
	}
	walkNodes(doc, func(n *html.Node) {
		switch {
		case n.Type == html.ElementNode && n.Data == "body":
			r.body = n
		case n.Type == html.ElementNode && hasClass(n, "span-row"):
			r.rows = append(r.rows, n)
		}
	})
	wf := findByID(doc, "waterfall")
	if r.body == nil || wf == nil {
		t.Fatalf("no body or #waterfall in the rendered DOM:\n%s", r.dom)
	}
	if got, _ := attr(wf, "data-rendered"); got != strconv.Itoa(tr.SpanCount) {
		t.Fatalf("#waterfall data-rendered = %q, want %d: the script did not run to the end", got, tr.SpanCount)
	}
	r.pageWidth = intAttr(t, r.body, "data-page-width")
	if r.pageWidth < 1000 || r.pageWidth > 1200 {
		t.Errorf("page width %d, want about the 1200-pixel window", r.pageWidth)
	}
	if len(r.rows) != tr.SpanCount {
		t.Fatalf("%d rendered rows, want one per span (%d)", len(r.rows), tr.SpanCount)
	}
	for i, row := range r.rows {
		spanID, _ := attr(row, "data-span-id")
		if spanID != tr.Spans[i].SpanID {
			t.Errorf("row %d is span %s, want %s (tree order)", i, spanID, tr.Spans[i].SpanID)
		}
		b := firstWithClass(row, "bar")
		if b == nil {
			t.Fatalf("row %s has no bar", spanID)
		}
		l, rt := intAttr(t, b, "data-left"), intAttr(t, b, "data-right")
		if l < 0 || rt > r.pageWidth || rt <= l {
			t.Errorf("span %s: bar [%d, %d] is not within the page [0, %d]", spanID, l, rt, r.pageWidth)
		}
		r.bars[spanID] = bar{l, rt}
	}
	return r
}

func firstWithClass(n *html.Node, class string) *html.Node {
	var found *html.Node
	walkNodes(n, func(c *html.Node) {
		if found == nil && c.Type == html.ElementNode && hasClass(c, class) {
			found = c
		}
	})
	return found
}

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	walkNodes(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// The page, rendered by a real browser, draws one row per span with every
// bar inside the page, the root's bar spanning the track and every bar
// starting where its offset says.
func TestHTMLInChromium(t *testing.T) {
	page, tr := htmlOf(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rd := renderInChromium(t, ctx, dir, page, tr)
	rows, pageWidth, bars, file := rd.rows, rd.pageWidth, rd.bars, rd.file
	root := bars[tr.Spans[0].SpanID]
	trackWidth := float64(root.right - root.left)
	if trackWidth < float64(pageWidth)/3 {
		t.Errorf("root bar is %v px wide in a %d px page: the track is too narrow", trackWidth, pageWidth)
	}
	for _, s := range tr.Spans {
		want := float64(root.left) + float64(s.OffsetMicros)/float64(tr.DurationMicros)*trackWidth
		if got := float64(bars[s.SpanID].left); got < want-2 || got > want+2 {
			t.Errorf("span %s: bar starts at %v px, want %.0f (offset %dµs of %dµs)", s.SpanID, got, want, s.OffsetMicros, tr.DurationMicros)
		}
	}
	var classes []string
	for _, r := range rows {
		v, _ := attr(r, "class")
		classes = append(classes, v)
	}
	if !strings.Contains(classes[len(classes)-1], "error") || !strings.Contains(classes[2], "phase") || !strings.Contains(classes[0], "cold") {
		t.Errorf("row classes %q: want the db span marked error, the pod_start span phase, the root cold", classes)
	}

	shot := filepath.Join(dir, "w.png")
	chromium(t, ctx, "--window-size=1200,800", "--screenshot="+shot, "file://"+file)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 800 {
		t.Errorf("screenshot is %v, want 1200x800", b)
	}
	colours := map[uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 4 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 4 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>12<<8|g>>12<<4|b>>12] = true
		}
	}
	if len(colours) < 6 {
		t.Errorf("screenshot has %d colours: nothing was drawn", len(colours))
	}
	if dst := os.Getenv("KNTRACE_SCREENSHOT"); dst != "" {
		png, _ := os.ReadFile(shot)
		if err := os.WriteFile(dst, png, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func intAttr(t *testing.T, n *html.Node, key string) int {
	t.Helper()
	v, ok := attr(n, key)
	if !ok {
		t.Fatalf("<%s> has no %s: the script did not measure it", n.Data, key)
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, v, err)
	}
	return i
}

// The phases taken from Kubernetes' records, rendered by a real browser:
// nested one level under the kntrace.kubernetes.coldstart row, each marked a
// phase and naming its source ("present" on an image that was not pulled),
// their bars inside the group's, and the cold start's summary line shown.
func TestHTMLKubernetesPhasesInChromium(t *testing.T) {
	cs := &jaegertest.ColdStart{TraceID: jaegertest.WindowTraceID(1), At: jaegertest.Start, Service: "hello", Namespace: "demo",
		Revision: "hello-00001", Kubernetes: true, Phases: jaegertest.KubernetesPhases(true, 45, 12, 310, 0, 95, 640, 700, 60, 23)}
	tr, err := Build(cs.Trace())
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, tr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rd := renderInChromium(t, ctx, t.TempDir(), page.Bytes(), tr)

	group := slices.IndexFunc(tr.Spans, func(s *Span) bool { return s.OperationName == coldstart.SpanKubernetes })
	if group < 0 {
		t.Fatalf("the fixture has no %s span", coldstart.SpanKubernetes)
	}
	if !hasClass(rd.rows[group], "kube") {
		t.Errorf("the %s row is not marked kube: class %q", coldstart.SpanKubernetes, classOf(rd.rows[group]))
	}
	groupDepth := intAttr(t, rd.rows[group], "data-depth")
	groupBar := rd.bars[tr.Spans[group].SpanID]
	type phaseRow struct{ Phase, Source, Label string }
	var got, want []phaseRow
	for _, p := range cs.Phases {
		label := p.Source
		if p.ImagePresent {
			label += " · " + coldstart.ImagePresent
		}
		want = append(want, phaseRow{p.Name, p.Source, label})
	}
	// The rows right after the group's, one level deeper, are its phases.
	for i := group + 1; i < len(rd.rows) && intAttr(t, rd.rows[i], "data-depth") == groupDepth+1; i++ {
		row, s := rd.rows[i], tr.Spans[i]
		if !hasClass(row, "phase") {
			t.Errorf("row %s %s: class %q, want phase", s.SpanID, s.OperationName, classOf(row))
		}
		source, _ := attr(row, "data-source")
		label := ""
		if n := firstWithClass(row, "source"); n != nil {
			label = text(n)
		}
		got = append(got, phaseRow{s.ColdStartPhase, source, label})
		if b := rd.bars[s.SpanID]; b.left < groupBar.left-2 || b.right > groupBar.right+2 {
			t.Errorf("phase %s: bar [%d, %d] outside the group's [%d, %d]", s.ColdStartPhase, b.left, b.right, groupBar.left, groupBar.right)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows nested under %s (-want +got):\n%s", coldstart.SpanKubernetes, diff)
	}

	episodes, _ := ColdStartEpisodes([]*Trace{tr}, ColdStartFilter{})
	if len(episodes) != 1 {
		t.Fatalf("%d cold starts in the fixture, want 1", len(episodes))
	}
	doc, err := html.Parse(bytes.NewReader(rd.dom))
	if err != nil {
		t.Fatal(err)
	}
	var summaries []string
	walkNodes(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && hasClass(n, "coldstart-summary") {
			summaries = append(summaries, text(n))
		}
	})
	if diff := cmp.Diff([]string{episodes[0].Summary()}, summaries); diff != "" {
		t.Errorf("summary lines (-want +got):\n%s", diff)
	}
}

func classOf(n *html.Node) string {
	v, _ := attr(n, "class")
	return v
}
