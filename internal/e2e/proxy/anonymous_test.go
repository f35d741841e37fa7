package proxy

import (
	"context"
	"crypto/rand"
	"io"
	"maps"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/e2e/e2etest"
)

// TestAnonymousChecksLeaveNoState sends up to 200,000 (at least 100,000, in
// at most 150 s) forward-auth checks without
// a valid session straight to twostep (nginx would only slow it down):
// half without any cookie, half with a random session cookie or Bearer
// token that names no session. Every one must be answered 401, and they
// must leave nothing behind: no rows in the database, and the Go heap of
// this process — the server runs in it, through cli.RunEnv — no larger
// afterwards than before (issue #5: "anonymous requests leave no
// server-side state"). Measured after a warm-up, with a forced GC on both
// sides; 2 MiB of slack covers runtime noise, not 10 bytes per request.
func TestAnonymousChecksLeaveNoState(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 requests: not in -short")
	}
	const (
		total   = 200_000
		atLeast = 100_000
		warmup  = 20_000
		workers = 8
		slack   = 2 << 20
		// capTime bounds the test on a busy machine. It was 60 s until a CI
		// run on a 2-core machine under a load average of 30 managed only
		// 789 checks/s; a quiet machine sends the 200,000 in about a minute.
		capTime = 150 * time.Second
	)
	ts := startTwostep(t)
	// A real session exists, so the lookups of random tokens search a
	// non-empty table.
	ts.AddUser(t, "alice")
	res, err := http.Post("http://"+ts.addr+"/api/v1/login", "application/json",
		strings.NewReader(`{"username":"alice","password":"`+e2etest.Password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login: status %d", res.StatusCode)
	}

	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + ts.addr + "/api/v1/auth/auth-request"

	// run sends n checks from 8 keep-alive workers, stopping at the
	// deadline; it returns how many were sent and the answers that were
	// not 401.
	run := func(ctx context.Context, n int64) (sent int64, wrong map[string]int64) {
		var next atomic.Int64
		var mu sync.Mutex
		wrong = map[string]int64{}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for ctx.Err() == nil {
					i := next.Add(1)
					if i > n {
						return
					}
					req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
					req.Header.Set("X-Original-URL", "http://"+appHost+"/page")
					switch i % 4 {
					case 1: // a random session cookie
						req.Header.Set("Cookie", "twostep_session="+rand.Text()+rand.Text())
					case 2: // a random Bearer token
						req.Header.Set("Authorization", "Bearer "+rand.Text()+rand.Text())
					case 3: // cookieless, asking for HTML (still 401: nginx sends X-Original-URL)
						req.Header.Set("Accept", "text/html")
					}
					res, err := hc.Do(req)
					label := ""
					if err != nil {
						label = "transport"
						if ctx.Err() != nil {
							return
						}
					} else {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusUnauthorized {
							label = res.Status
						}
					}
					if label != "" {
						mu.Lock()
						wrong[label]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		return min(next.Load(), n), wrong
	}

	ctx, cancel := context.WithTimeout(context.Background(), capTime)
	defer cancel()
	if _, wrong := run(ctx, warmup); len(wrong) > 0 {
		t.Fatalf("warm-up answers other than 401: %v", wrong)
	}
	rows0 := countRows(t, ts)
	heap0 := heapAfterGC()
	start := time.Now()
	sent, wrong := run(ctx, total)
	elapsed := time.Since(start)
	heap1 := heapAfterGC()
	rows1 := countRows(t, ts)

	t.Logf("%d anonymous checks in %v (%.0f/s); heap %d → %d bytes (%+d)", sent, elapsed.Round(time.Millisecond),
		float64(sent)/elapsed.Seconds(), heap0, heap1, int64(heap1)-int64(heap0))
	if len(wrong) > 0 {
		t.Errorf("answers other than 401: %v", wrong)
	}
	// capTime bounds the test's time on a slow or busy machine; 100,000
	// checks still make a leak of 20 bytes each exceed the slack.
	if sent < atLeast {
		t.Errorf("only %d checks sent within the %v cap, want at least %d (of %d)", sent, capTime, atLeast, total)
	}
	if int64(heap1)-int64(heap0) > slack {
		t.Errorf("heap grew by %d bytes over %d anonymous checks (%.1f bytes each); want flat (< %d bytes)",
			int64(heap1)-int64(heap0), sent, float64(int64(heap1)-int64(heap0))/float64(sent), slack)
	}
	if !maps.Equal(rows0, rows1) {
		t.Errorf("anonymous checks changed the database: rows before %v, after %v", rows0, rows1)
	}
}

// heapAfterGC returns the live heap after two forced collections.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// countRows counts the rows of the tables a request could write to.
func countRows(t *testing.T, ts *twostep) map[string]int {
	t.Helper()
	db := ts.OpenDB(t)
	out := map[string]int{}
	for _, table := range []string{"sessions", "audit_log", "users", "factors"} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}
