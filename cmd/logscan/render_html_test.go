package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logscan/logscan/samples/gen"
)

// hostileTag is log text that would run if a page took it for markup: the
// browser test checks that window.__pwned stays unset.
const hostileTag = `<script>window.__pwned=1;alert(1)</script><img src=x onerror=window.__pwned=2>`

// hostileConn is a connector name with markup, an ANSI escape and a bidi
// override; hostileEHLO an EHLO name with the same.
var (
	hostileConn = "EX01\\Relay <b>" + "\x1b[31m\u202e" + hostileTag
	hostileEHLO = hostileTag + "\x1b[31m\u202eevil.example"
)

// hostileHTMLDir writes logs whose EHLO and connector names are hostile,
// through a connector that relays, so they reach the findings, the
// sources, the tables and the chart legends.
func hostileHTMLDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(hostileFields)
	for i := range 6 {
		sid := "08DD0000000010" + string(rune('A'+i)) + "0"
		b.WriteString(smtpSession(hostileConn, sid, "10.0.0.1:25", "198.51.100.9:4000", hostileEHLO, "x@evil.example", relay,
			"victim@outside.example", "other@faraway.example"))
	}
	if err := os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func scanHTML(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"scan", "--format", "html"}, args...)...)
	if code != 0 {
		t.Fatalf("scan --format html %v: exit %d: %s", args, code, errOut)
	}
	return out
}

// TestHTMLSameEveryTime: the page is byte for byte the same from run to
// run and whatever the worker count, and -o writes what stdout gets.
func TestHTMLSameEveryTime(t *testing.T) {
	want := scanHTML(t, "--workers", "1", "../../samples/contoso")
	for _, w := range []string{"2", "8", "1"} {
		if got := scanHTML(t, "--workers", w, "../../samples/contoso"); got != want {
			t.Fatalf("--workers %s: the page differs: %s", w, firstDifference(want, got))
		}
	}
	out := filepath.Join(t.TempDir(), "report.html")
	if code, stdout, errOut := runCLI(t, "scan", "--format", "html", "-o", out, "../../samples/contoso"); code != 0 || stdout != "" {
		t.Fatalf("-o: exit %d, stdout %q, stderr %s", code, stdout, errOut)
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != want {
		t.Fatalf("-o wrote something else (%v): %s", err, firstDifference(want, string(got)))
	}
	for _, must := range []string{
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:;`,
		`<svg class="chart"`, `<pre><code>`, `id="what-happened"`,
	} {
		if !strings.Contains(want, must) {
			t.Errorf("the page lacks %q", must)
		}
	}
	// Nothing that loads: no script, no link, no source or style from elsewhere.
	for _, never := range []string{"<script", "<link", "<img", "<iframe", `src="`, `href="http`, "@import", "url("} {
		if i := strings.Index(want, never); i >= 0 {
			t.Errorf("the page holds %q: %s", never, want[max(0, i-80):min(len(want), i+80)])
		}
	}
	if len(want) > 2<<20 {
		t.Errorf("the sample's page is %d bytes, over 2 MB", len(want))
	}
}

// TestHTMLHostile: markup, escape sequences and bidi overrides from the
// logs reach the page as visible text, never as markup or raw controls.
func TestHTMLHostile(t *testing.T) {
	page := scanHTML(t, hostileHTMLDir(t))
	if strings.Contains(page, "<script") || strings.Contains(page, "<img") || strings.Contains(page, "Relay <b>") {
		t.Errorf("markup from the logs reached the page")
	}
	for _, r := range []string{"\x1b", "\u202e", "\u009b"} {
		if strings.Contains(page, r) {
			t.Errorf("the page holds the raw control %q", r)
		}
	}
	for _, want := range []string{`&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;`, `\x1b[31m\u202e`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks the escaped text %q", want)
		}
	}
	if !strings.Contains(page, "<svg") {
		t.Errorf("no chart")
	}
}

// TestHTMLSizeOnLargeOrg: a busy organisation's page stays well under
// 2 MB: aggregated series and the first rows of lists. (A month of logs
// bins a panel's hours 5 to a point; measured by hand, see the README.)
func TestHTMLSizeOnLargeOrg(t *testing.T) {
	cfg := gen.Config{Hours: 72, Scale: 1, Seed: 5, Botnet: 300, MoreIncidents: true, Auth: true, Compromise: true}
	if testing.Short() {
		cfg = gen.Config{Hours: 24, Scale: 0.5, Seed: 5, Botnet: 100, MoreIncidents: true}
	}
	dir := t.TempDir()
	st := genOrg(t, dir, cfg)
	page := scanHTML(t, dir)
	t.Logf("%d files, %.1f MB of logs: page %d bytes", st.Files, float64(st.Bytes)/1e6, len(page))
	if len(page) > 2<<20 {
		t.Errorf("page of %d bytes, over 2 MB", len(page))
	}
	if !bytes.Contains([]byte(page), []byte(`<svg class="chart"`)) {
		t.Errorf("no chart")
	}
}
