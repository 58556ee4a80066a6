package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser test opens HTML reports in headless Chromium (Debian's
// chromium package; .ci/run installs it). It never skips: without a
// browser it fails and says how to get one. LOGSCAN_SCREENSHOT=FILE saves
// a screenshot of the sample's report there (make report).

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("the browser test needs Chromium and found none: install it with `apt-get install -y chromium` (.ci/run does)")
	return ""
}

// browserVisit is what one page load showed.
type browserVisit struct {
	Requests   []string // every URL the page asked for
	Errors     []string // console errors, exceptions, error log entries, dialogs
	Page       pageProbeResult
	Screenshot []byte
}

type pageProbeResult struct {
	Headlines  []string `json:"headlines"`
	Titles     []string `json:"titles"`
	Hidden     []string `json:"hidden"`
	Charts     int      `json:"charts"`
	Marks      int      `json:"marks"`
	Scripts    int      `json:"scripts"`
	Pwned      bool     `json:"pwned"`
	Text       string   `json:"text"`
	FixBlocks  int      `json:"fixBlocks"`
	EmptyChart int      `json:"emptyChart"`
}

const pageProbe = `(() => {
  const vis = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  const out = {headlines: [], titles: [], hidden: []};
  for (const e of document.querySelectorAll('.headline')) { out.headlines.push(e.textContent); if (!vis(e)) out.hidden.push(e.textContent); }
  for (const e of document.querySelectorAll('.finding .title')) { out.titles.push(e.textContent); if (!vis(e)) out.hidden.push(e.textContent); }
  const charts = document.querySelectorAll('svg.chart');
  out.charts = charts.length;
  out.marks = document.querySelectorAll('svg.chart path').length;
  out.emptyChart = [...charts].filter(s => s.querySelectorAll('path').length < 4 || !vis(s)).length;
  out.scripts = document.querySelectorAll('script').length;
  out.pwned = window.__pwned !== undefined;
  out.fixBlocks = document.querySelectorAll('pre > code').length;
  out.text = document.body.innerText;
  return out;
})()`

func visit(t *testing.T, file string, screenshot bool) browserVisit {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 1500),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	var v browserVisit
	var mu sync.Mutex
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			v.Requests = append(v.Requests, ev.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				v.Errors = append(v.Errors, "console: "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			v.Errors = append(v.Errors, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				v.Errors = append(v.Errors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			v.Errors = append(v.Errors, "dialog: "+ev.Message)
			go chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	})
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(what string, err error) {
		if err != nil {
			t.Fatalf("Chromium on %s: %s: %v", file, what, err)
		}
	}
	_, err = chromedp.Call(bctx, network.Enable, network.EnableParams{})
	fail("Network.enable", err)
	_, err = chromedp.Call(bctx, log.Enable, cdp.Empty{})
	fail("Log.enable", err)
	_, err = chromedp.Call(bctx, runtime.Enable, cdp.Empty{})
	fail("Runtime.enable", err)
	fail("loading the page", chromedp.Do(bctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady("body"),
		chromedp.Sleep(300*time.Millisecond))) // late console messages
	probe, err := chromedp.Run(bctx, chromedp.EvaluateAsDevTools[pageProbeResult](pageProbe))
	fail("probing the page", err)
	if screenshot {
		v.Screenshot, err = chromedp.Run(bctx, chromedp.CaptureScreenshot())
		fail("screenshot", err)
	}
	mu.Lock()
	defer mu.Unlock()
	v.Page = probe
	return v
}

// checkVisit: no error, nothing fetched but the file itself, the charts
// drawn, no script on the page and none run.
func checkVisit(t *testing.T, file string, v browserVisit) {
	t.Helper()
	abs, _ := filepath.Abs(file)
	for _, u := range v.Requests {
		if u != "file://"+abs {
			t.Errorf("the page made a request: %s", u)
		}
	}
	if len(v.Requests) == 0 {
		t.Errorf("no request seen at all: the network events were not listened to")
	}
	for _, e := range v.Errors {
		t.Errorf("browser: %s", e)
	}
	if v.Page.Scripts != 0 || v.Page.Pwned {
		t.Errorf("script on the page: %d script elements, window.__pwned set: %v", v.Page.Scripts, v.Page.Pwned)
	}
	if v.Page.Charts == 0 || v.Page.EmptyChart > 0 || v.Page.Marks < 10 {
		t.Errorf("charts: %d drawn, %d empty or hidden, %d paths", v.Page.Charts, v.Page.EmptyChart, v.Page.Marks)
	}
	if len(v.Page.Hidden) > 0 {
		t.Errorf("not visible: %q", v.Page.Hidden)
	}
}

// TestReportInBrowser: the sample's report in Chromium shows every
// incident and finding, draws its charts and fetches nothing.
func TestReportInBrowser(t *testing.T) {
	file := filepath.Join(t.TempDir(), "report.html")
	if code, _, errOut := runCLI(t, "scan", "--format", "html", "-o", file, "../../samples/contoso"); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	var rep jsonReport
	_, js, _ := runCLI(t, "scan", "--format", "json", "../../samples/contoso")
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	shot := os.Getenv("LOGSCAN_SCREENSHOT")
	v := visit(t, file, shot != "")
	checkVisit(t, file, v)
	if len(rep.WhatHappened) == 0 || len(rep.Findings) == 0 {
		t.Fatal("the sample has no incident: the test would prove nothing")
	}
	for _, inc := range rep.WhatHappened {
		if !contains(v.Page.Headlines, safe(inc.Text)) {
			t.Errorf("headline not on the page: %q", inc.Text)
		}
	}
	for _, f := range rep.Findings {
		if !contains(v.Page.Titles, safe(f.Title)) {
			t.Errorf("finding title not on the page: %q", f.Title)
		}
	}
	if v.Page.FixBlocks == 0 {
		t.Errorf("no fix in a <pre><code> block")
	}
	t.Logf("%d requests, %d charts with %d paths, %d fix blocks", len(v.Requests), v.Page.Charts, v.Page.Marks, v.Page.FixBlocks)
	if shot != "" {
		if err := os.WriteFile(shot, v.Screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileReportInBrowser: markup, ANSI escapes and bidi overrides in
// EHLO and connector names show as text; nothing runs.
func TestHostileReportInBrowser(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hostile.html")
	if code, _, errOut := runCLI(t, "scan", "--format", "html", "-o", file, hostileHTMLDir(t)); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	v := visit(t, file, false)
	checkVisit(t, file, v)
	for _, want := range []string{"<script>window.__pwned=1;alert(1)</script>", `\x1b[31m\u202e`, "Relay <b>"} {
		if !strings.Contains(v.Page.Text, want) {
			t.Errorf("the page does not show %q as text", want)
		}
	}
	if strings.ContainsAny(v.Page.Text, "\x1b\u202e") {
		t.Errorf("a raw control character reached the page's text")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
