// SPDX-License-Identifier: Apache-2.0

package controller_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/symdist/symdist/adminapi"
	"github.com/symdist/symdist/controller"
	"github.com/symdist/symdist/test/testbed"
)

var update = flag.Bool("update", false, "write docs/plots/page-drain.png, the page during a drain (TestPageBrowser)")

// pageScreenshot is where -update writes the page during a drain; docs/operations.md shows it.
const pageScreenshot = "../docs/plots/page-drain.png"

// browser starts headless Chromium for the test, skipping it where there is none.
func browser(t *testing.T) (ctx context.Context, requests func() []string) {
	t.Helper()
	var exe string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Skip("chromium not found: apt-get install chromium (Debian)")
	}
	// No sandbox: it needs privileges containers often lack (and root
	// refuses it), and the page is the test's own.
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls = append(urls, e.Request.URL)
		case *cdpruntime.EventExceptionThrown: // the page's script failed
			text := "exception: "
			if d := e.ExceptionDetails; d != nil {
				text += d.Text
				if d.Exception != nil {
					text += " " + d.Exception.Description
				}
			}
			urls = append(urls, text)
		}
	}); err != nil {
		t.Fatalf("chromium %s: %v", exe, err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// sameOrigin fails the test for any request the page made elsewhere.
func sameOrigin(t *testing.T, base string, urls []string) {
	t.Helper()
	if len(urls) == 0 {
		t.Error("no request recorded")
	}
	for _, u := range urls {
		if strings.HasPrefix(u, "exception: ") {
			t.Errorf("the page's script threw: %s", u)
			continue
		}
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, not of %s", u, base)
		}
	}
}

// pageTM is what the page shows of one TM and its group.
type pageTM struct {
	Drained  string `json:"drained"`
	Buckets  string `json:"buckets"`
	Moving   string `json:"moving"`
	Chained  string `json:"chained"`
	Timeouts string `json:"timeouts"`
}

const readTM = `(() => {
	const r = document.querySelector('tr[data-tm="tm2"]');
	const g = document.querySelector('section[data-group="web"]');
	return {drained: r ? r.dataset.drained : '', buckets: r ? r.dataset.buckets : '', moving: g ? g.dataset.moving : '', chained: r ? r.dataset.chained : '', timeouts: r ? r.dataset.timeouts : ''};
})()`

// Issue 22: the page shows the config's groups and TMs; after a drain
// through the API it shows the TM drained and its buckets at 0, without a
// reload, within a second; the buckets waiting for the drained TM's ack
// are highlighted meanwhile; it is usable with the keyboard; nothing
// leaves for another origin.
func TestPageBrowser(t *testing.T) {
	ctx, requests := browser(t)
	l := newLab(t)
	cfg := l.config(t, 10)
	hold := 1500 * time.Millisecond // a drain waits this long for tm2's ack: the page shows the handover
	cfg.HandoverTimeout = &hold
	c, _ := runController(t, cfg)
	base := "http://" + testbed.ServeAdmin(t, c)
	testbed.Eventually(t, "initial programming", 10*time.Second, func() bool { return inSync(c) })

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`tr[data-tm="tm3"]`))); err != nil {
		t.Fatal(err)
	}
	tms, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tr[data-tm]')].map(r => r.dataset.tm)`))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('section[data-group]')].map(s => s.dataset.group)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tm1", "tm2", "tm3"}; !slices.Equal(tms, want) {
		t.Errorf("the page shows TMs %v, want %v", tms, want)
	}
	if want := []string{"web"}; !slices.Equal(groups, want) {
		t.Errorf("the page shows groups %v, want %v", groups, want)
	}

	// The keyboard reads the bucket table: Tab reaches it, arrows move.
	if err := chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(`section[data-group="web"] canvas`)),
		chromedp.KeyEvent(kb.End),
		chromedp.KeyEvent(kb.ArrowLeft),
	); err != nil {
		t.Fatal(err)
	}
	readout, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`section[data-group="web"] .readout`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(readout, "bucket 4094: tm") {
		t.Errorf("after End and Left the page reads %q, want bucket 4094 and its TM", readout)
	}

	// tm2 follows the watch and never acknowledges: its buckets wait.
	api := &adminapi.Client{URL: base}
	s, err := api.Watch(context.Background(), "tm2", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	next(t, s)
	had := c.Status().Groups[0].TMs[1].Buckets
	resp, err := http.Post(base+"/api/tms/tm2/drain", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	drainedAt := time.Now()

	var pageDrained, pageZero, ctlZero time.Time
	var last pageTM
	sawMoving := false
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end) && (pageZero.IsZero() || ctlZero.IsZero()); time.Sleep(20 * time.Millisecond) {
		if ctlZero.IsZero() && c.Status().Groups[0].TMs[1].Buckets == 0 {
			ctlZero = time.Now()
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[pageTM](readTM))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		last = got
		if got.Drained == "true" && pageDrained.IsZero() {
			pageDrained = now
		}
		if got.Moving != "" && got.Moving != "0" && !sawMoving {
			sawMoving = true
			if *update {
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.FromSlash(pageScreenshot), png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", pageScreenshot)
			}
		}
		if got.Buckets == "0" && got.Moving == "0" && pageZero.IsZero() {
			pageZero = now
		}
	}
	switch {
	case pageDrained.IsZero():
		t.Fatal("the page never showed tm2 drained")
	case pageDrained.Sub(drainedAt) > time.Second:
		t.Errorf("the page showed tm2 drained %v after the drain, want within a second", pageDrained.Sub(drainedAt))
	}
	if !sawMoving {
		t.Error("the page never highlighted tm2's buckets waiting for its ack")
	}
	switch {
	case ctlZero.IsZero():
		t.Fatal("the controller never moved tm2's buckets")
	case pageZero.IsZero():
		t.Fatal("the page never showed tm2 at 0 buckets")
	case pageZero.Sub(ctlZero) > time.Second:
		t.Errorf("the page showed tm2 at 0 buckets %v after the controller, want within a second", pageZero.Sub(ctlZero))
	}
	// Its buckets chain to it (chain_window): their new owners hand it
	// its established connections.
	if want := fmt.Sprint(had); last.Chained != want {
		t.Errorf("the page shows %s buckets chained to tm2, want the %s it had", last.Chained, want)
	}
	// tm2 never acknowledged: one handover timeout.
	if last.Timeouts != "1" {
		t.Errorf("the page shows %q handover timeouts of tm2, want 1", last.Timeouts)
	}
	t.Logf("drain answered; page shows it drained after %v; controller at 0 buckets after %v, the page %v later",
		pageDrained.Sub(drainedAt).Round(time.Millisecond), ctlZero.Sub(drainedAt).Round(time.Millisecond), pageZero.Sub(ctlZero).Round(time.Millisecond))

	events, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(`event-list`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tm2 drained", "buckets moved: tm2 →", fmt.Sprintf("%d buckets of tm2 wait for the TM's ack", had), "tm2 did not acknowledge a loss within the handover timeout"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q:\n%s", want, events)
		}
	}
	sameOrigin(t, base, requests())
}

// Issue 22: with a token, the page without it asks for it and shows no
// data; the token typed in opens it and lasts for the browser session.
func TestPageBrowserToken(t *testing.T) {
	ctx, requests := browser(t)
	l := newLab(t)
	cfg := l.config(t, 10)
	cfg.Admin.Token = "s3cret"
	c, err := controller.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + testbed.ServeAdmin(t, c)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID(`token-form`)),
		chromedp.Sleep(300*time.Millisecond),
	); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('tr[data-tm], section[data-group], #event-list li').length`))
	if err != nil {
		t.Fatal(err)
	}
	dataHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('data').hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 0 || !dataHidden {
		t.Fatalf("without the token the page shows %d rows of data (data hidden: %v)", rows, dataHidden)
	}

	// A wrong token is refused and asked again.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID(`token`), "wrong"+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('token-error').textContent !== ''`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(`token-error`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "refused") {
		t.Errorf("after a wrong token the page says %q", msg)
	}

	// The right one, typed: the page opens; reloaded, it still has it.
	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.ID(`token`), "s3cret"+kb.Enter),
		chromedp.Reload(),
	} {
		if err := chromedp.Do(ctx, step, chromedp.WaitVisible(chromedp.CSS(`tr[data-tm="tm1"]`))); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	sameOrigin(t, base, requests())
}
