package main

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// recorder collects per-request outcomes of one scenario. Workers append
// under a mutex; at the measured rates (thousands per second) the lock is
// nowhere near a bottleneck, and it keeps the code obvious.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration // successful and failed requests alike
	statuses  map[string]int  // "200", "401", "transport", "bad_body", ...
	first     time.Time       // start of the first request
	last      time.Time       // end of the last request
}

func newRecorder(capacity int) *recorder {
	return &recorder{latencies: make([]time.Duration, 0, capacity), statuses: map[string]int{}}
}

// add records one request that started at start and took d; outcome is
// the HTTP status or a label for a failure without one.
func (r *recorder) add(start time.Time, d time.Duration, outcome string) {
	end := start.Add(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, d)
	r.statuses[outcome]++
	if r.first.IsZero() || start.Before(r.first) {
		r.first = start
	}
	if end.After(r.last) {
		r.last = end
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest value with at least p% of the values at or below
// it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// latencySummary is the latency distribution of one scenario, in
// milliseconds for the JSON output.
type latencySummary struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(lat []time.Duration) latencySummary {
	s := slices.Clone(lat)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return latencySummary{
		P50: ms(percentile(s, 50)),
		P95: ms(percentile(s, 95)),
		P99: ms(percentile(s, 99)),
		Max: ms(percentile(s, 100)),
	}
}

// errorCounts returns every outcome other than expected, for the report.
func errorCounts(statuses map[string]int, expected string) map[string]int {
	out := map[string]int{}
	for k, v := range statuses {
		if k != expected {
			out[k] = v
		}
	}
	return out
}

// formatCounts renders {"401":3,"503":1} as "401×3 503×1", or "none".
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += k + "×" + strconv.Itoa(m[k])
	}
	return s
}
