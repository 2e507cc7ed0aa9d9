package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ratio is one target of the issue: our figure next to its peer's.
type ratio struct {
	Name   string  `json:"name"`
	Ours   float64 `json:"ours"`
	Peer   float64 `json:"peer"`
	Unit   string  `json:"unit"`
	Ratio  float64 `json:"ratio"` // Ours/Peer, or for RSS the growth in MiB
	Target string  `json:"target"`
	Met    bool    `json:"met"`
}

func find(rs []result, scenario, target, op string, c int) (result, bool) {
	for _, r := range rs {
		if r.Scenario == scenario && r.Target == target && r.Op == op && (c == 0 || r.Concurrency == c) {
			return r, true
		}
	}
	return result{}, false
}

// compare computes the ratios from the results of one run; the
// ones whose runs are missing are left out.
func compare(rs []result) []ratio {
	var out []ratio
	for _, c := range comparisons() {
		if r, ok := c.ratio(rs); ok {
			out = append(out, r)
		}
	}
	if r, ok := rssRatio(rs); ok {
		out = append(out, r)
	}
	out = append(out, scaleClaims(rs)...)
	return append(out, scaleRatios(rs)...)
}

// measured names the result of one run: a scenario's op against a target.
type measured struct{ scenario, target, op string }

// comparison is a target of the issue that divides a figure of one of
// our runs by the same figure of a peer's run.
type comparison struct {
	name      string // may hold one %d: our run's concurrency
	ours      measured
	peer      measured
	unit      string
	figure    func(result) float64
	bound     float64
	boundIsUp bool // the ratio must be at most bound, not at least
}

func reqPerSec(r result) float64 { return r.ReqPerSec }

// noGoal is the Target of a comparison shown for what it explains.
const noGoal = "—"

func p99(r result) float64       { return r.P99Ms }
func cpuPerReq(r result) float64 { return r.CPUUsPerReq }

// comparisons are the issues' targets against peers (issue 27's for
// create, GET and variants: figures of alternating rounds, medians).
func comparisons() []comparison {
	create := [2]measured{{"create", "userimages", "create"}, {"create", "noop", "create"}}
	get := [2]measured{{"get", "userimages", "get"}, {"get", "nginx", "get"}}
	vget := [2]measured{{"variant-get", "userimages", "get"}, {"variant-get", "nginx", "get"}}
	cold := [2]measured{{"variant-cold", "userimages", "cold"}, {"variant-cold", "libvips", "cold"}}
	return []comparison{
		{name: "create-upload req/s vs no-op net/http", ours: create[0], peer: create[1], unit: "req/s", figure: reqPerSec, bound: 0.6},
		{name: "create-upload p99 vs the no-op's", ours: create[0], peer: create[1], unit: "ms", figure: p99, bound: 1.5, boundIsUp: true},
		{name: "create-upload CPU per request vs the no-op's (not a goal: what contention disturbs less)", ours: create[0], peer: create[1], unit: "µs", figure: cpuPerReq},
		{name: "GET 200 KB req/s vs nginx sendfile", ours: get[0], peer: get[1], unit: "req/s", figure: reqPerSec, bound: 0.9},
		{name: "GET 200 KB CPU per request vs nginx's (not a goal)", ours: get[0], peer: get[1], unit: "µs", figure: cpuPerReq},
		{name: "GET 200 KB req/s vs net/http's FileServer (not a goal: the Go floor)", ours: get[0], peer: measured{"get", "gofile", "get"}, unit: "req/s", figure: reqPerSec},
		{name: "net/http's FileServer GET req/s vs nginx's (not a goal: the Go floor)", ours: measured{"get", "gofile", "get"}, peer: get[1], unit: "req/s", figure: reqPerSec},
		{name: "net/http's FileServer CPU per GET vs nginx's (not a goal)", ours: measured{"get", "gofile", "get"}, peer: get[1], unit: "µs", figure: cpuPerReq},
		{name: "GET 200 KB p99 vs nginx's", ours: get[0], peer: get[1], unit: "ms", figure: p99, bound: 1.5, boundIsUp: true},
		{name: "2 MB PUT MB/s vs Versity S3 Gateway", ours: measured{"put", "userimages", "put"}, peer: measured{"put", "versitygw", "put"},
			unit: "MB/s", figure: func(r result) float64 { return r.MBPerSec }, bound: 1.0},
		{name: "stored variant GET req/s vs nginx sendfile of the same file", ours: vget[0], peer: vget[1], unit: "req/s", figure: reqPerSec, bound: 0.9},
		{name: "stored variant GET p99 vs nginx's", ours: vget[0], peer: vget[1], unit: "ms", figure: p99, bound: 1.5, boundIsUp: true},
		{name: "stored variant GET CPU per request vs nginx's (not a goal)", ours: vget[0], peer: vget[1], unit: "µs", figure: cpuPerReq},
		{name: "net/http's FileServer GET of the variant req/s vs nginx's (not a goal: the Go floor)", ours: measured{"variant-get", "gofile", "get"}, peer: vget[1], unit: "req/s", figure: reqPerSec},
		{name: "cold 12 MP JPEG → 640 px WebP images/s vs libvips (vipsthumbnail, one process)", ours: cold[0], peer: cold[1],
			unit: "/s", figure: reqPerSec, bound: 1.0},
		{name: "cold 12 MP JPEG → 640 px WebP p99 vs libvips' (one process per file)", ours: cold[0], peer: cold[1],
			unit: "ms", figure: p99, bound: 1.5, boundIsUp: true},
		{name: "full flows/s vs our create+PUTs/s, same bytes and clients", ours: measured{"flow", "userimages", "flow"}, peer: measured{"flow", "userimages", "create+put"},
			unit: "/s", figure: reqPerSec, bound: 0.8},
		{name: "full-flow p99 at c=%d vs Versity's 2 MB PUT p99", ours: measured{"flow", "userimages", "flow"}, peer: measured{"put", "versitygw", "put"},
			unit: "ms", figure: p99, bound: 1.5, boundIsUp: true},
	}
}

// ratio is c's ratio in rs, of the medians of the rounds when a side ran
// several (harness.alternate), or false when a run is missing or the
// peer's figure is zero.
func (c comparison) ratio(rs []result) (ratio, bool) {
	a, ok := find(rs, c.ours.scenario, c.ours.target, c.ours.op, 0)
	if !ok {
		return ratio{}, false
	}
	ours, rounds := median(rs, c.ours, c.figure)
	peer, _ := median(rs, c.peer, c.figure)
	if peer == 0 {
		return ratio{}, false
	}
	name := c.name
	if strings.Contains(name, "%d") {
		name = fmt.Sprintf(name, a.Concurrency)
	}
	if rounds > 1 {
		name += fmt.Sprintf(" (medians of %d rounds)", rounds)
	}
	q := ours / peer
	r := ratio{Name: name, Ours: ours, Peer: peer, Unit: c.unit, Ratio: q,
		Target: fmt.Sprintf("≥ %.1f", c.bound), Met: q >= c.bound}
	switch {
	case c.bound == 0:
		r.Target, r.Met = noGoal, true
	case c.boundIsUp:
		r.Target, r.Met = fmt.Sprintf("≤ %.1f", c.bound), q <= c.bound
	}
	return r, true
}

// rssRatio is the growth of our peak RSS over idle under 256 concurrent
// PUTs, next to versitygw's.
func rssRatio(rs []result) (ratio, bool) {
	a, ok := find(rs, "put256", "userimages", "put", 0)
	if !ok {
		return ratio{}, false
	}
	grow := a.PeakRSSMiB - a.IdleRSSMiB
	peer := 0.0
	if b, ok := find(rs, "put256", "versitygw", "put", 0); ok {
		peer = b.PeakRSSMiB - b.IdleRSSMiB
	}
	return ratio{Name: "peak RSS over idle, 256 concurrent 2 MB PUTs (peer: versitygw's)", Ours: grow, Peer: peer,
		Unit: "MiB", Ratio: grow, Target: "≤ 64 MiB", Met: grow <= 64}, true
}

// scaleClaims are the claim p99s of the scale scenario at each store size.
func scaleClaims(rs []result) []ratio {
	var out []ratio
	for _, r := range rs {
		if r.Scenario == "scale" && r.Op == "claim" && r.Concurrency > 1 {
			out = append(out, ratio{Name: fmt.Sprintf("claim p99 at c=%d with %s stored", r.Concurrency, r.Target), Ours: r.P99Ms, Unit: "ms",
				Ratio: r.P99Ms, Target: "≤ 50 ms", Met: r.P99Ms <= 50})
		}
	}
	return out
}

// scaleRatios compare the latencies with the largest store against the
// smallest, per op and concurrency.
func scaleRatios(rs []result) []ratio {
	var targets []string
	for _, r := range rs {
		if r.Scenario == "scale" && !contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
	}
	if len(targets) < 2 {
		return nil
	}
	small, large := targets[0], targets[len(targets)-1]
	var out []ratio
	for _, r := range rs {
		if r.Scenario != "scale" || r.Target != large {
			continue
		}
		s, ok := find(rs, "scale", small, r.Op, r.Concurrency)
		if !ok || s.P50Ms == 0 {
			continue
		}
		for _, p := range []struct {
			name string
			a, b float64
		}{{"p50", r.P50Ms, s.P50Ms}, {"p99", r.P99Ms, s.P99Ms}} {
			q := p.a / p.b
			out = append(out, ratio{Name: fmt.Sprintf("%s %s latency c=%d, %s vs %s", r.Op, p.name, r.Concurrency, large, small),
				Ours: p.a, Peer: p.b, Unit: "ms", Ratio: q, Target: "≤ 1.2", Met: q <= 1.2})
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func f1(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// printReport writes the results and the comparison as Markdown tables.
func printReport(w io.Writer, rep report) {
	fmt.Fprintf(w, "\n%s, %d cores (%s), %s\n`%s`\n\n", rep.Date, rep.Cores, rep.CPU, rep.GoVersion, rep.Command)
	fmt.Fprintln(w, "| scenario | target | op | round | c | s | requests | errors | req/s | MB/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | idle RSS MiB | peak RSS MiB | VmHWM MiB | CPU µs/req | load |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %.1f | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n",
			r.Scenario, r.Target, r.Op, r.Round, r.Concurrency, r.Seconds, r.Requests, r.Errors, f1(r.ReqPerSec), f1(r.MBPerSec),
			f1(r.MeanMs), f1(r.P50Ms), f1(r.P90Ms), f1(r.P99Ms), f1(r.MaxMs), f1(r.IdleRSSMiB), f1(r.PeakRSSMiB), f1(r.HWMMiB), f1(r.CPUUsPerReq), r.LoadAvg)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | ours | peer | unit | ratio | wanted | met |")
	fmt.Fprintln(w, "|---|--:|--:|---|--:|---|---|")
	for _, c := range rep.Comparison {
		met := "**missed**"
		switch {
		case c.Target == noGoal:
			met = noGoal
		case c.Met:
			met = "met"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", c.Name, f1(c.Ours), f1(c.Peer), c.Unit, f1(c.Ratio), c.Target, met)
	}
	for _, r := range rep.Results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "\nfirst error of %s/%s/%s: %s", r.Scenario, r.Target, r.Op, strings.TrimSpace(r.FirstError))
		}
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range rep.Notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}
