package e2etest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/testskip"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// NeedChromium skips the test, saying so, when Chromium is not installed:
// for tests that would start other peers first.
func NeedChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		testskip.Skip(t, "Chromium is not installed ("+ChromiumPath+" missing)", "apt-get install -y chromium")
	}
}

// StartChromium starts one headless Chromium for the test (quiet: no
// sync, updates or first-run pages; 1280×800) with the extra options, and
// returns its browser context; it is stopped at test cleanup. It skips
// the test when Chromium is missing.
func StartChromium(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	NeedChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return browserCtx
}

// Tab is a person using one browser tab. Its methods fail the test when
// the page does not let them do what they try.
type Tab struct {
	T   testing.TB
	Ctx context.Context
}

// NewTab opens a tab in a new browser context of browserCtx (its own
// cookies), closed at test cleanup or after timeout.
func NewTab(t testing.TB, browserCtx context.Context, timeout time.Duration) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return &Tab{T: t, Ctx: ctx}
}

// Open navigates to url.
func (b *Tab) Open(url string) {
	b.T.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(url)); err != nil {
		b.T.Fatalf("open %s: %v", url, err)
	}
}

// Fill types value into the field with the id.
func (b *Tab) Fill(id, value string) {
	b.T.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.SendKeys(chromedp.ID(id), value)); err != nil {
		b.T.Fatalf("fill %s: %v", id, err)
	}
}

// Press clicks what sel selects and waits for the page it leads to.
func (b *Tab) Press(sel string) {
	b.T.Helper()
	if _, err := chromedp.Run(b.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		b.T.Fatalf("press %s: %v", sel, err)
	}
}

// Text is the text of what sel selects, its white space folded to single
// spaces as a reader sees it.
func (b *Tab) Text(sel string) string {
	b.T.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.T.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}
