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
	pair := func(name, scenario, peer, unit string, min float64, val func(result) float64) {
		a, ok1 := find(rs, scenario, "userimages", scenario, 0)
		b, ok2 := find(rs, scenario, peer, scenario, 0)
		if scenario == "put" {
			a, ok1 = find(rs, "put", "userimages", "put", 0)
			b, ok2 = find(rs, "put", peer, "put", 0)
		}
		if !ok1 || !ok2 || val(b) == 0 {
			return
		}
		q := val(a) / val(b)
		out = append(out, ratio{Name: name, Ours: val(a), Peer: val(b), Unit: unit, Ratio: q,
			Target: fmt.Sprintf("≥ %.1f", min), Met: q >= min})
	}
	reqs := func(r result) float64 { return r.ReqPerSec }
	pair("create-upload req/s vs no-op net/http", "create", "noop", "req/s", 0.6, reqs)
	pair("GET 200 KB req/s vs nginx sendfile", "get", "nginx", "req/s", 0.8, reqs)
	pair("2 MB PUT MB/s vs Versity S3 Gateway", "put", "versitygw", "MB/s", 1.0, func(r result) float64 { return r.MBPerSec })
	if a, ok := find(rs, "variant-get", "userimages", "get", 0); ok {
		if b, ok := find(rs, "variant-get", "nginx", "get", 0); ok && b.ReqPerSec > 0 {
			q := a.ReqPerSec / b.ReqPerSec
			out = append(out, ratio{Name: "stored variant GET req/s vs nginx sendfile of the same file", Ours: a.ReqPerSec, Peer: b.ReqPerSec, Unit: "req/s",
				Ratio: q, Target: "≥ 0.8", Met: q >= 0.8})
		}
	}
	if a, ok := find(rs, "variant-cold", "userimages", "cold", 0); ok {
		if b, ok := find(rs, "variant-cold", "libvips", "cold", 0); ok && b.ReqPerSec > 0 {
			q := a.ReqPerSec / b.ReqPerSec
			out = append(out, ratio{Name: "cold 12 MP JPEG → 640 px WebP images/s vs libvips (vipsthumbnail, one process)", Ours: a.ReqPerSec, Peer: b.ReqPerSec, Unit: "/s",
				Ratio: q, Target: "≥ 0.5", Met: q >= 0.5})
		}
	}
	if f, ok := find(rs, "flow", "userimages", "flow", 0); ok {
		if p, ok := find(rs, "flow", "userimages", "create+put", 0); ok && p.ReqPerSec > 0 {
			q := f.ReqPerSec / p.ReqPerSec
			out = append(out, ratio{Name: "full flows/s vs our create+PUTs/s, same bytes and clients", Ours: f.ReqPerSec, Peer: p.ReqPerSec, Unit: "/s",
				Ratio: q, Target: "≥ 0.8", Met: q >= 0.8})
		}
		if v, ok := find(rs, "put", "versitygw", "put", 0); ok && v.P99Ms > 0 {
			q := f.P99Ms / v.P99Ms
			out = append(out, ratio{Name: fmt.Sprintf("full-flow p99 at c=%d vs Versity's 2 MB PUT p99", f.Concurrency), Ours: f.P99Ms, Peer: v.P99Ms, Unit: "ms",
				Ratio: q, Target: "≤ 1.5", Met: q <= 1.5})
		}
	}
	if a, ok := find(rs, "put256", "userimages", "put", 0); ok {
		grow := a.PeakRSSMiB - a.IdleRSSMiB
		peer := 0.0
		if b, ok := find(rs, "put256", "versitygw", "put", 0); ok {
			peer = b.PeakRSSMiB - b.IdleRSSMiB
		}
		out = append(out, ratio{Name: "peak RSS over idle, 256 concurrent 2 MB PUTs (peer: versitygw's)", Ours: grow, Peer: peer,
			Unit: "MiB", Ratio: grow, Target: "≤ 64 MiB", Met: grow <= 64})
	}
	// scale: the largest store against the smallest, per op and concurrency.
	var targets []string
	for _, r := range rs {
		if r.Scenario == "scale" && !contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
	}
	for _, r := range rs {
		if r.Scenario == "scale" && r.Op == "claim" && r.Concurrency > 1 {
			out = append(out, ratio{Name: fmt.Sprintf("claim p99 at c=%d with %s stored", r.Concurrency, r.Target), Ours: r.P99Ms, Unit: "ms",
				Ratio: r.P99Ms, Target: "≤ 50 ms", Met: r.P99Ms <= 50})
		}
	}
	if len(targets) >= 2 {
		small, large := targets[0], targets[len(targets)-1]
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
	fmt.Fprintln(w, "| scenario | target | op | c | s | requests | errors | req/s | MB/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | idle RSS MiB | peak RSS MiB | VmHWM MiB | load |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %.1f | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n",
			r.Scenario, r.Target, r.Op, r.Concurrency, r.Seconds, r.Requests, r.Errors, f1(r.ReqPerSec), f1(r.MBPerSec),
			f1(r.MeanMs), f1(r.P50Ms), f1(r.P90Ms), f1(r.P99Ms), f1(r.MaxMs), f1(r.IdleRSSMiB), f1(r.PeakRSSMiB), f1(r.HWMMiB), r.LoadAvg)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | ours | peer | unit | ratio | wanted | met |")
	fmt.Fprintln(w, "|---|--:|--:|---|--:|---|---|")
	for _, c := range rep.Comparison {
		met := "**missed**"
		if c.Met {
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
