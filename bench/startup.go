package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// runStartup is `bench startup --server BIN [--repeat 25]` (issue #12):
// start-up to the first 200 on /readyz and idle RSS, each measured over
// many fresh starts, since one start says little. Each run starts
// `BIN serve` in a fresh directory (a new SQLite file and key file, as
// --server does), waits --settle, reads VmRSS, and stops it; the runs never
// overlap. It prints every run, then the median, minimum and maximum of
// each against the targets (≤ 30 ms, ≤ 25 MB).
func runStartup(args []string, stdout, stderr io.Writer) int {
	f := flag.NewFlagSet("bench startup", flag.ContinueOnError)
	f.SetOutput(stderr)
	bin := f.String("server", "", "twostep binary to start")
	repeat := f.Int("repeat", 25, "starts to measure (1 to 1000)")
	settle := f.Duration("settle", time.Second, "wait after /readyz before reading idle RSS")
	var a argon2Params
	f.IntVar(&a.MemoryKiB, "argon2-memory", 19456, "argon2id memory in KiB for the started server")
	f.IntVar(&a.Time, "argon2-time", 2, "argon2id passes")
	f.IntVar(&a.Threads, "argon2-threads", 1, "argon2id lanes")
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *bin == "" || *repeat < 1 || *repeat > 1000 || *settle < 0 || f.NArg() > 0 {
		fmt.Fprintln(stderr, "bench startup: give --server BIN, --repeat 1 to 1000 and --settle ≥ 0")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(*repeat)*(*settle+20*time.Second))
	defer cancel()
	var startMs, rssMiB []float64
	for i := range *repeat {
		srv, startup, err := startServer(ctx, *bin, a, serverConfig{})
		if err != nil {
			fmt.Fprintln(stderr, "bench startup:", err)
			return 1
		}
		select {
		case <-time.After(*settle):
		case <-ctx.Done():
		}
		rss, err := memStatus(srv.pid(), "VmRSS")
		srv.stop()
		if err != nil || ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench startup:", errors.Join(err, ctx.Err()))
			return 1
		}
		ms := float64(startup.Microseconds()) / 1000
		startMs, rssMiB = append(startMs, ms), append(rssMiB, mib(rss))
		fmt.Fprintf(stdout, "run %2d: start-up %6.1f ms, idle RSS %5.1f MiB\n", i+1, ms, mib(rss))
	}
	sm, rm := summary(startMs), summary(rssMiB)
	fmt.Fprintf(stdout, "\n%d starts of %s (process start → first 200 on GET /readyz, polled every 1 ms; VmRSS after %v):\n", *repeat, *bin, *settle)
	fmt.Fprintf(stdout, "  start-up  median %.1f ms, min %.1f, max %.1f   target ≤ 30 ms: %s\n", sm[0], sm[1], sm[2], verdict(sm[0] <= 30))
	fmt.Fprintf(stdout, "  idle RSS  median %.1f MiB, min %.1f, max %.1f   target ≤ 25 MB (23.8 MiB): %s\n", rm[0], rm[1], rm[2], verdict(rm[0]*(1<<20) <= 25*mb))
	return 0
}

// summary is the median (the lower middle value for an even count), the
// minimum and the maximum.
func summary(v []float64) [3]float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return [3]float64{s[(len(s)-1)/2], s[0], s[len(s)-1]}
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
}
