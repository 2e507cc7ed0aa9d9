package main

import (
	"context"
	"slices"
	"time"
)

// side is one target of an alternating comparison: its process and the
// loop of requests driving it.
type side struct {
	target string
	pid    int
	fn     op
}

// alternate drives the sides of scenario in h.rounds rounds, each side
// once a round, in turn: the first side first in odd rounds, the last
// side first in even ones (ABBA), so that a change of the machine's load
// during the run falls on every side alike. Every round is one result
// (its Round set); the comparisons take the median of the rounds. The
// rounds start once every side is idle.
func (h *harness) alternate(ctx context.Context, scenario, opName string, sides ...side) {
	// Our server compiles the WebP encoder at start and hashes what was
	// uploaded: not in the first round.
	for _, s := range sides {
		if !waitIdle(ctx, s.pid, 30*time.Second) {
			h.note("%s: %s was still busy after 30 s; the rounds ran anyway", scenario, s.target)
		}
	}
	for round := 1; round <= max(1, h.rounds); round++ {
		order := slices.Clone(sides)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			if ctx.Err() != nil {
				return
			}
			settle(ctx)
			r := drive(ctx, scenario, s.target, opName, s.pid, h.c, h.d, s.fn)
			r.Round = round
			h.add(r)
		}
	}
}

// median is the median of figure over the results of m in rs (the mean of
// the middle two of an even count), and how many there are.
func median(rs []result, m measured, figure func(result) float64) (float64, int) {
	var xs []float64
	for _, r := range rs {
		if r.Scenario == m.scenario && r.Target == m.target && r.Op == m.op {
			xs = append(xs, figure(r))
		}
	}
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2], n
	}
	return (xs[n/2-1] + xs[n/2]) / 2, n
}
