package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The floor answers like twostep's forward-auth for a session it accepts
// (200 and identity headers) and for none (401), reading the credential
// where twostep does. It never opens a socket here.
func TestFloorHandler(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"bearer", map[string]string{"Authorization": "Bearer abc"}, 200},
		{"cookie", map[string]string{"Cookie": "twostep_session=abc"}, 200},
		{"nothing", nil, 401},
		{"empty cookie", map[string]string{"Cookie": "twostep_session="}, 401},
		{"another cookie", map[string]string{"Cookie": "other=abc"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/auth/auth-request", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			floorHandler(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if got := w.Header().Get("Remote-User") != "" && w.Header().Get("Remote-Name") != ""; got != (tt.want == 200) {
				t.Errorf("identity headers present = %v on %d", got, w.Code)
			}
		})
	}
}

// The floor's own handler allocates nothing; what remains in a server is
// net/http's.
func TestFloorHandlerAllocs(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/v1/auth/auth-request", nil)
	r.Header.Set("Authorization", "Bearer abc")
	w := &headerOnly{h: http.Header{}}
	if n := testing.AllocsPerRun(100, func() { clear(w.h); floorHandler(w, r) }); n != 0 {
		t.Errorf("floorHandler allocates %.0f times per check, want 0", n)
	}
}

// headerOnly is a ResponseWriter that keeps the header map and nothing
// else, so only the handler's allocations are counted.
type headerOnly struct {
	h    http.Header
	code int
}

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerOnly) WriteHeader(code int)        { w.code = code }

func TestFloorSummary(t *testing.T) {
	var s floorSummary
	s.add(40, 20)
	s.add(30, 20)
	s.add(60, 20)
	if s.Ratios[0] != 2 || s.Ratios[1] != 1.5 || s.Ratios[2] != 3 {
		t.Fatalf("ratios %v", s.Ratios)
	}
	if s.MedianRatio != 2 {
		t.Errorf("median %v, want 2", s.MedianRatio)
	}
	s.add(10, 0) // a floor that used no measurable CPU: no ratio rather than +Inf
	if s.Ratios[3] != 0 {
		t.Errorf("ratio with a zero floor = %v, want 0", s.Ratios[3])
	}
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{4, 1, 3, 2}, 2}, {[]float64{3, 1, 2}, 2}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestStartupSummary(t *testing.T) {
	if got := summary([]float64{31, 29, 40, 28}); got != [3]float64{29, 28, 40} {
		t.Errorf("summary = %v", got)
	}
	if got := summary([]float64{5}); got != [3]float64{5, 5, 5} {
		t.Errorf("summary of one = %v", got)
	}
}
