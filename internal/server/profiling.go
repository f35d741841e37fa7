package server

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"
)

// profiling serves Go's runtime profiles under /debug/pprof/ so a slow
// instance can be profiled where it runs (docs/deploy.md), in the formats
// `go tool pprof` and `go tool trace` read. Only the operations listener
// gets them: a profile is operator information and a CPU profile or trace
// costs the server time, so the public listener answers 404
// (TestPprofOnlyOnOperations).
//
// These few handlers stand in for net/http/pprof, whose import alone cost
// 1.5 MiB of idle memory and start-up time (it links internal/profile,
// which compiles a dozen regular expressions at init, for delta profiles
// twostep does not need; docs/benchmarks.md) — the idle-memory target is
// 25 MB. Left out too: /debug/pprof/cmdline (the process's arguments,
// which profiling does not need) and /symbol (profiles carry their
// symbols).
func profiling(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/{$}", profileIndex)
	mux.HandleFunc("GET /debug/pprof/profile", cpuProfile)
	mux.HandleFunc("GET /debug/pprof/trace", executionTrace)
	mux.HandleFunc("GET /debug/pprof/{name}", namedProfile)
}

func profileIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "twostep runtime profiles (go tool pprof URL):")
	fmt.Fprintln(w, "  /debug/pprof/profile?seconds=30   CPU")
	fmt.Fprintln(w, "  /debug/pprof/trace?seconds=5      execution trace (go tool trace)")
	for _, p := range pprof.Profiles() {
		fmt.Fprintf(w, "  /debug/pprof/%-20s %d  (?debug=1 for text)\n", p.Name(), p.Count())
	}
}

// namedProfile writes heap, allocs, goroutine, block, mutex or
// threadcreate; ?debug=1 (or 2 for goroutine stacks) as text.
func namedProfile(w http.ResponseWriter, r *http.Request) {
	p := pprof.Lookup(r.PathValue("name"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+p.Name()+`"`)
	}
	if r.FormValue("gc") != "" && p.Name() == "heap" {
		runtimeGC()
	}
	p.WriteTo(w, debug)
}

// cpuProfile records ?seconds= (default 30, at most 300) of CPU profile.
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	d, ok := profileSeconds(w, r, 30)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	if err := pprof.StartCPUProfile(w); err != nil {
		w.Header().Del("Content-Disposition")
		http.Error(w, "a CPU profile is running already", http.StatusConflict)
		return
	}
	sleep(r, d)
	pprof.StopCPUProfile()
}

// executionTrace records ?seconds= (default 1, at most 300) of execution
// trace.
func executionTrace(w http.ResponseWriter, r *http.Request) {
	d, ok := profileSeconds(w, r, 1)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="trace"`)
	if err := trace.Start(w); err != nil {
		w.Header().Del("Content-Disposition")
		http.Error(w, "a trace is running already", http.StatusConflict)
		return
	}
	sleep(r, d)
	trace.Stop()
}

// profileSeconds reads ?seconds= and moves the write deadline past it (the
// listener's WriteTimeout is 30 s).
func profileSeconds(w http.ResponseWriter, r *http.Request, def int) (time.Duration, bool) {
	sec := def
	if v := r.FormValue("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 300 {
			http.Error(w, "seconds: want 1 to 300", http.StatusBadRequest)
			return 0, false
		}
		sec = n
	}
	d := time.Duration(sec) * time.Second
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + 30*time.Second))
	return d, true
}

// sleep waits d or until the client goes away.
func sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// runtimeGC runs a garbage collection before a heap profile (?gc=1), so it
// shows live memory only.
func runtimeGC() { runtime.GC() }
