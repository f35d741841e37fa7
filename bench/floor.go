package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// The floor (issue #12): the least any Go server can do for a forward-auth
// check. floorHandler reads the session credential where twostep reads it
// (Authorization: Bearer, else the twostep_session cookie) and answers 200
// with two identity headers, or 401 without one. No session lookup, no
// rules, no middleware: what is left is net/http itself. `bench --floor`
// measures twostep and this server in the same run with the same
// generator and requests, one after the other, and prints the ratio of
// their server CPU per check.

// floorUser is the identity the floor names; any value will do, the
// headers are what cost.
var floorUser = []string{"floor"}

// floorHandler is the bare handler. It writes the headers through their
// canonical keys (no canonicalisation) with a shared value slice, so its
// own allocations are none: any that remain are net/http's.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		if c, err := r.Cookie("twostep_session"); err != nil || c.Value == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	h := w.Header()
	h["Remote-User"] = floorUser
	h["Remote-Name"] = floorUser
	w.WriteHeader(http.StatusOK)
}

// floorServer is http.Server as twostep's Serve configures it (timeouts
// and header limit), so both pay for the same per-connection deadlines.
func floorServer() *http.Server {
	return &http.Server{
		Handler:           http.HandlerFunc(floorHandler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}

// runFloorServe is `bench floor-serve --listen ADDR`: the floor as a
// process of its own, so its CPU time is measured like the server's. bench
// --floor starts it (its own executable, re-run); it can also be started
// by hand. It serves until SIGTERM or SIGINT.
func runFloorServe(args []string, stderr io.Writer) int {
	f := flag.NewFlagSet("bench floor-serve", flag.ContinueOnError)
	f.SetOutput(stderr)
	addr := f.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "bench floor-serve:", err)
		return 1
	}
	srv := floorServer()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "bench floor-serve:", err)
		return 1
	}
	return 0
}

// floorProc is the floor server bench started.
type floorProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// startFloor runs this executable as `floor-serve` on a free loopback port
// and waits until it answers a check.
func startFloor(ctx context.Context) (*floorProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &floorProc{url: "http://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(self, "floor-serve", "--listen", addr)
	p.cmd.Stderr = os.Stderr
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	poll := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-p.done:
			return nil, errors.New("floor server exited during start-up")
		default:
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			p.stop()
			return nil, errors.Join(errors.New("floor server not answering after 10 s"), ctx.Err())
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", p.url+"/", nil)
		req.Header.Set("Authorization", "Bearer ready")
		if resp, err := poll.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func (p *floorProc) pid() int { return p.cmd.Process.Pid }

// stop ends the floor server (SIGTERM, SIGKILL after 10 s; this PID only).
func (p *floorProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// floorSummary compares twostep's server CPU per check with the floor's,
// round by round (each round measures twostep, then the floor).
type floorSummary struct {
	TwostepCPUMicros []float64 `json:"twostep_cpu_us_per_check"`
	FloorCPUMicros   []float64 `json:"floor_cpu_us_per_check"`
	Ratios           []float64 `json:"ratios"`
	MedianRatio      float64   `json:"median_ratio"`
}

// forwardAuthRounds runs the forward-auth scenario o.rounds times against
// twostep (c, pids) and, with --floor, after each against the floor server,
// which it starts first and stops at the end. The two are never loaded at
// the same time; twostep idles while the floor is measured.
func forwardAuthRounds(ctx context.Context, o options, rep *report, c *client, pids []int, users []*user, log io.Writer) error {
	var fl *floorProc
	var fc *client
	if o.floor {
		var err error
		if fl, err = startFloor(ctx); err != nil {
			return err
		}
		defer fl.stop()
		fc = newClient([]string{fl.url}, o.concurrency)
		fmt.Fprintf(log, "  floor: bare net/http server pid %d at %s (bench floor-serve)\n", fl.pid(), fl.url)
		rep.Floor = &floorSummary{}
	}
	one := func(c *client, pids []int, name string) (result, error) {
		r, err := measure(pids, func() (result, error) {
			return runForwardAuth(ctx, c, users, o.concurrency, o.duration, o.maxRequests, o.anonymous, o.httpClient == "lean")
		})
		r.HTTPClient = o.httpClient
		if name != "" {
			r.Scenario += name
		}
		rep.Scenarios = append(rep.Scenarios, r)
		return r, errors.Join(err, ctx.Err())
	}
	for round := range o.rounds {
		if o.rounds > 1 {
			fmt.Fprintf(log, "  round %d of %d\n", round+1, o.rounds)
		}
		r, err := one(c, pids, "")
		if err != nil {
			return err
		}
		if fl == nil {
			continue
		}
		f, err := one(fc, []int{fl.pid()}, "-floor")
		if err != nil {
			return err
		}
		rep.Floor.add(r.ServerCPUPerReq*1000, f.ServerCPUPerReq*1000)
	}
	return nil
}

// add records one round: server CPU per check in µs of twostep and of the
// floor.
func (s *floorSummary) add(twostep, floor float64) {
	s.TwostepCPUMicros = append(s.TwostepCPUMicros, twostep)
	s.FloorCPUMicros = append(s.FloorCPUMicros, floor)
	ratio := 0.0
	if floor > 0 {
		ratio = twostep / floor
	}
	s.Ratios = append(s.Ratios, ratio)
	s.MedianRatio = median(s.Ratios)
}

// median is the middle value (the lower of the two middle ones for an even
// count, like the latency percentiles' nearest rank).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
