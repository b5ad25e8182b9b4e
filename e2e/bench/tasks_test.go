package bench_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"

	"mitidchip/e2e/harness"
	"mitidchip/e2e/scenario"
)

var (
	tracedActivations = flag.Int("traced", 3, "activations traced by BenchmarkActivationTasks (at most 5: one dev chip each)")
	tracedCPU         = flag.Float64("traced-cpu", 1, "CPU slow-down of the traced activations (1: none)")
	tracedDepth       = flag.Int("traced-depth", 6, "how deep the events inside a long task are printed")
	tracedTop         = flag.Int("traced-top", 6, "the longest main-thread tasks (over 15 ms) printed for each traced activation")
)

// traceCategories are what DevTools' Performance panel records, without
// screenshots, and V8's wasm and compile events.
var traceCategories = []string{
	"toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline",
	"v8.execute", "v8", "v8.wasm", "blink.user_timing", "loading", "blink",
}

// traceEvent is one Chrome trace event (the JSON trace format).
type traceEvent struct {
	Name string          `json:"name"`
	Cat  string          `json:"cat"`
	Ph   string          `json:"ph"`
	Ts   float64         `json:"ts"`  // µs
	Dur  float64         `json:"dur"` // µs
	Pid  int64           `json:"pid"`
	Tid  int64           `json:"tid"`
	Args json.RawMessage `json:"args"`
}

// BenchmarkActivationTasks runs whole Bluetooth activations with a DevTools trace
// recording and attributes every main-thread task over 50 ms to what ran inside it
// (script, wasm compile or instantiate, style, layout, parse), so that the long
// tasks of BenchmarkPage's "longest-task" have names. The trace's own cost makes its
// tasks a little longer than untraced ones.
func BenchmarkActivationTasks(b *testing.B) {
	root, err := scenario.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	module := b.TempDir()
	if err := scenario.BuildModule(ctx, module, root, "./wasm"); err != nil {
		b.Fatal(err)
	}
	assets := b.TempDir()
	if _, err := scenario.Publish(assets, module); err != nil {
		b.Fatal(err)
	}
	s := scenario.Start(b, scenario.Assets(assets))
	out := os.Stdout
	fmt.Fprintf(out, "\nLong main-thread tasks of a whole Bluetooth activation, attributed by a DevTools trace (%d runs)\n", *tracedActivations)
	for i := range *tracedActivations {
		traceActivation(b, out, s, i)
	}
}

func traceActivation(b *testing.B, out io.Writer, s *scenario.Server, run int) {
	b.Helper()
	vc := s.Chips.Chip(fmt.Sprintf("MC-%06d", run+1))
	br := harness.New(b)
	ctx := br.Context()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: longTasks}); err != nil {
		b.Fatalf("observe long tasks: %v", err)
	}
	var mu sync.Mutex
	var raw []jsonv2.Value
	done := make(chan struct{})
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			raw = append(raw, ev.Value...)
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(done)
		}
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, tracing.Start, tracing.StartParams{
		TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig:  &tracing.TraceConfig{IncludedCategories: traceCategories},
	}); err != nil {
		b.Fatalf("start tracing: %v", err)
	}
	if *tracedCPU > 1 {
		if _, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: *tracedCPU}); err != nil {
			b.Fatal(err)
		}
	}
	br.EmulateChip(vc)
	person := "bench-traced-" + string(rune('a'+run))
	p := scenario.Open(b, br, s, s.NewLink(b, person, ""))
	p.CreatePassword("Blåbær-Kano-73!")
	p.ChooseTransport("bluetooth")
	p.Connect()
	p.EnterCode(p.ReadCode(vc))
	p.ConfirmOnChip(vc)
	p.ExpectCompleted()
	if _, err := chromedp.Call(ctx, tracing.End, cdp.Empty{}); err != nil {
		b.Fatalf("end tracing: %v", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatal("the trace did not complete")
	}
	tasks := harness.Eval[[]longTask](br, "globalThis[Symbol.for('mitidchip.bench.longtasks')]")
	mu.Lock()
	events := make([]traceEvent, 0, len(raw))
	for _, v := range raw {
		var e traceEvent
		if json.Unmarshal([]byte(v), &e) == nil {
			events = append(events, e)
		}
	}
	mu.Unlock()
	fmt.Fprintf(out, "\nrun %d: longtask entries: %s\n", run+1, describeTasks(tasks))
	attribute(out, events)
}

func describeTasks(tasks []longTask) string {
	if len(tasks) == 0 {
		return "none"
	}
	var s []string
	for _, t := range tasks {
		s = append(s, fmt.Sprintf("%.0f ms at %.0f ms", t.Duration, t.Start))
	}
	return strings.Join(s, ", ")
}

// attribute prints every task over 50 ms on a renderer's main thread and the
// longest events inside it, nested.
func attribute(out io.Writer, events []traceEvent) {
	main := map[[2]int64]bool{}
	for _, e := range events {
		if e.Ph == "M" && e.Name == "thread_name" && strings.Contains(string(e.Args), "CrRendererMain") {
			main[[2]int64{e.Pid, e.Tid}] = true
		}
	}
	// navigationStart-ish origin: the first user-timing or the first main-thread event
	var t0 float64
	for _, e := range events {
		if main[[2]int64{e.Pid, e.Tid}] && e.Name == "navigationStart" && strings.Contains(string(e.Args), "#t=") {
			t0 = e.Ts
		}
	}
	var onMain []traceEvent
	for _, e := range events {
		if main[[2]int64{e.Pid, e.Tid}] && e.Ph == "X" {
			onMain = append(onMain, e)
		}
	}
	sort.SliceStable(onMain, func(i, j int) bool {
		if onMain[i].Ts != onMain[j].Ts {
			return onMain[i].Ts < onMain[j].Ts
		}
		return onMain[i].Dur > onMain[j].Dur
	})
	// The longest tasks whatever their length: on a loaded machine the same work
	// crosses 50 ms.
	var longest []int
	for i, e := range onMain {
		if e.Name == "RunTask" && e.Dur >= 15000 && !harnessGC(e, onMain[i+1:]) {
			longest = append(longest, i)
		}
	}
	sort.SliceStable(longest, func(a, b int) bool { return onMain[longest[a]].Dur > onMain[longest[b]].Dur })
	if len(longest) > *tracedTop {
		longest = longest[:*tracedTop]
	}
	sort.Ints(longest)
	for _, i := range longest {
		e := onMain[i]
		fmt.Fprintf(out, "  task %.0f ms at %.0f ms (from the link's navigationStart)\n", e.Dur/1000, (e.Ts-t0)/1000)
		var inside []traceEvent
		for _, c := range onMain[i+1:] {
			if c.Ts >= e.Ts+e.Dur {
				break
			}
			if c.Pid == e.Pid && c.Tid == e.Tid && c.Dur >= 1000 {
				inside = append(inside, c)
			}
		}
		printTree(out, inside, 2)
	}
}

// harnessGC tells a task that is DevTools' own heap-profiler collection (the
// harness asking for the page's heap), not the page's work.
func harnessGC(task traceEvent, after []traceEvent) bool {
	var gc float64
	for _, c := range after {
		if c.Ts >= task.Ts+task.Dur {
			break
		}
		if c.Pid == task.Pid && c.Tid == task.Tid && c.Name == "MajorGC" && strings.Contains(string(c.Args), "heap profiler") {
			gc += c.Dur
		}
	}
	return gc > 0
}

func printTree(out io.Writer, evs []traceEvent, depth int) {
	type line struct {
		depth int
		name  string
		dur   float64
		n     int
		args  json.RawMessage
	}
	var lines []line
	var stack []float64 // ends
	for _, c := range evs {
		for len(stack) > 0 && c.Ts >= stack[len(stack)-1] {
			stack = stack[:len(stack)-1]
		}
		d := len(stack)
		stack = append(stack, c.Ts+c.Dur)
		if d >= *tracedDepth {
			continue
		}
		// Siblings of the same name in a row are summed: wasm.CompileLazy, for one.
		if k := len(lines) - 1; k >= 0 && lines[k].depth == d && lines[k].name == c.Name && detail(lines[k].args) == detail(c.Args) {
			lines[k].dur += c.Dur
			lines[k].n++
			continue
		}
		lines = append(lines, line{depth: d, name: c.Name, dur: c.Dur, n: 1, args: c.Args})
	}
	for _, l := range lines {
		n := ""
		if l.n > 1 {
			n = fmt.Sprintf(" (x%d)", l.n)
		}
		fmt.Fprintf(out, "%s%s%s %.1f ms %s\n", strings.Repeat("  ", depth+l.depth), l.name, n, l.dur/1000, detail(l.args))
	}
}

// detail picks the fields of an event's args that say what ran.
func detail(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var parts []string
	pick := func(src map[string]any) {
		for _, k := range []string{"url", "functionName", "type", "name", "fileName", "lineNumber", "columnNumber", "message", "frame", "elementCount", "styleSheetUrl"} {
			if v, ok := src[k]; ok && v != "" {
				s := fmt.Sprint(v)
				if i := strings.LastIndex(s, "/"); i >= 0 && k == "url" {
					s = s[i+1:]
				}
				if k == "frame" {
					continue
				}
				parts = append(parts, k+"="+s)
			}
		}
	}
	if d, ok := m["data"].(map[string]any); ok {
		pick(d)
	}
	if d, ok := m["beginData"].(map[string]any); ok {
		pick(d)
	}
	pick(m)
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), " ")
}
