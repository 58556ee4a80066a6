package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/logscan/logscan/samples/gen"
)

// TestMain lets a test run the real command in a child process (to kill
// it): LOGSCAN_MAIN=1 makes the test binary behave as logscan.
func TestMain(m *testing.M) {
	if os.Getenv("LOGSCAN_MAIN") == "1" {
		os.Exit(runMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// comparable is what must agree between scanning raw logs and scanning the
// dataset made from them.
type comparable struct {
	Findings  json.RawMessage
	Inventory json.RawMessage
	Probes    json.RawMessage
	Sessions  json.RawMessage
	Servers   json.RawMessage
	Conns     json.RawMessage
	Rows      int64
}

func scanComparable(t *testing.T, args ...string) comparable {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"scan", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("scan %v: exit %d: %s", args, code, errOut)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	var rows int64
	json.Unmarshal(m["rows_emitted"], &rows)
	return comparable{m["findings"], m["relay_inventory"], m["relay_probes"], m["session_counts"], m["servers"], m["connectors"], rows}
}

func ingest(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"ingest"}, args...)...)
	if code != 0 {
		t.Fatalf("ingest %v: exit %d: %s\n%s", args, code, errOut, out)
	}
	return out
}

// genOrg writes a generated organisation's logs under dir.
func genOrg(t testing.TB, dir string, cfg gen.Config) gen.Stats {
	t.Helper()
	st, err := gen.Generate(cfg, func(p string) (io.WriteCloser, error) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		return os.Create(full)
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDatasetScanEqualsRaw: the detectors over a dataset give what they
// give over the protocol logs it was made from, in both formats. (A
// dataset holds no connectivity logs: ingest skips them with a notice, so
// the raw side reads the protocol log folders only.)
func TestDatasetScanEqualsRaw(t *testing.T) {
	logs, _ := filepath.Abs(filepath.Join("..", "..", "samples", "contoso"))
	protocol, _ := filepath.Glob(filepath.Join(logs, "*", "*", "ProtocolLog"))
	if len(protocol) != 6 {
		t.Fatalf("protocol log folders %q, want 3 servers' FrontEnd and Hub", protocol)
	}
	raw := scanComparable(t, protocol...)
	for _, format := range []string{"parquet", "arrow"} {
		t.Run(format, func(t *testing.T) {
			ds := filepath.Join(t.TempDir(), "ds")
			out := ingest(t, "--out", ds, "--format", format, logs)
			if !strings.Contains(out, "Rows:      123,593 read = 123,593 kept + 0 rejected") || !strings.Contains(out, "Held:      12 unfinished last line(s), left for the next run") {
				t.Errorf("ingest output:\n%s", out)
			}
			got := scanComparable(t, ds)
			if !reflect.DeepEqual(got, raw) {
				t.Errorf("dataset scan differs from raw scan:\n%s\n%s", got.Findings[:min(400, len(got.Findings))], raw.Findings[:min(400, len(raw.Findings))])
			}
		})
	}
}

// grow writes the state of a growing log folder: every file of final up to
// its share of the way, files cut at any byte (mid-line included), later
// files not there yet.
func grow(t *testing.T, final, dir string, share float64) {
	t.Helper()
	var files []string
	filepath.WalkDir(final, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files) // names sort by hour within each folder
	byFolder := map[string][]string{}
	for _, f := range files {
		byFolder[filepath.Dir(f)] = append(byFolder[filepath.Dir(f)], f)
	}
	for _, list := range byFolder {
		upto := share * float64(len(list))
		for i, f := range list {
			b, _ := os.ReadFile(f)
			switch {
			case float64(i+1) <= upto:
			case float64(i) < upto:
				b = b[:int(float64(len(b))*(upto-float64(i)))] // the hour being written
			default:
				continue
			}
			rel, _ := filepath.Rel(final, f)
			out := filepath.Join(dir, rel)
			os.MkdirAll(filepath.Dir(out), 0o755)
			os.WriteFile(out, b, 0o644)
		}
	}
}

// TestIncrementalRuns: three ingest runs over a folder that grows between
// them (files cut mid-line while being written) give a dataset whose scan
// equals one scan of the final folder; and three `scan --state` runs read
// every row exactly once.
func TestIncrementalRuns(t *testing.T) {
	final := t.TempDir()
	genOrg(t, final, gen.Config{Hours: 24, Scale: 0.1, Seed: 3})
	logs := filepath.Join(t.TempDir(), "logs")
	ds := filepath.Join(t.TempDir(), "ds")
	state := filepath.Join(t.TempDir(), "scan.state")
	var stateRows int64
	for _, share := range []float64{0.37, 0.71, 1} {
		grow(t, final, logs, share)
		ingest(t, "--out", ds, logs)
		code, out, errOut := runCLI(t, "scan", "--format", "json", "--state", state, logs)
		if code != 0 {
			t.Fatalf("scan --state: exit %d %s", code, errOut)
		}
		var rep jsonReport
		json.Unmarshal([]byte(out), &rep)
		stateRows += rep.RowsEmitted
		if rep.RowsRejected != 0 {
			t.Errorf("share %v: %d rows rejected: an unfinished line must wait for the next run", share, rep.RowsRejected)
		}
	}
	want := scanComparable(t, logs)
	got := scanComparable(t, ds)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("three incremental runs differ from one run:\n%s\n%s\n%s\n%s", got.Sessions, want.Sessions, got.Findings[:min(300, len(got.Findings))], want.Findings[:min(300, len(want.Findings))])
	}
	if stateRows != want.Rows {
		t.Errorf("scan --state runs read %d rows in all, one run reads %d", stateRows, want.Rows)
	}
	// The sessions table holds every session once, but those still open.
	out := ingest(t, "--out", ds, logs)
	if !strings.Contains(out, "0 read (0 went on from the last run") {
		t.Errorf("a fourth run over an unchanged folder read something:\n%s", out)
	}
}

// TestIngestKilled runs ingest in a real process over a folder that grows
// in three steps, and at each step kills it (SIGKILL) at random moments of
// its run before letting one finish: the dataset must be exactly what one
// uninterrupted run over the final folder makes.
func TestIngestKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("slow tier: make test runs it, make test-short does not")
	}
	final := t.TempDir()
	genOrg(t, final, gen.Config{Hours: 24, Scale: 2, Seed: 4})
	logs := filepath.Join(t.TempDir(), "logs")
	child := func(out, in string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "ingest", "--out", out, in)
		cmd.Env = append(os.Environ(), "LOGSCAN_MAIN=1")
		return cmd
	}
	clean := filepath.Join(t.TempDir(), "clean")
	began := time.Now()
	if out, err := child(clean, final).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	whole := time.Since(began)
	ds := filepath.Join(t.TempDir(), "ds")
	rng := rand.New(rand.NewPCG(4, 4))
	midRun, prev := 0, 0.0
	for _, share := range []float64{0.4, 0.7, 1} {
		step := share - prev // the part of the work this step's runs do
		prev = share
		grow(t, final, logs, share)
		for range 3 {
			cmd := child(ds, logs)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(float64(whole) * step * (0.05 + 0.9*rng.Float64())))
			cmd.Process.Kill()
			cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); ok && ws.Signaled() {
				midRun++
			}
		}
		if out, err := child(ds, logs).CombinedOutput(); err != nil {
			t.Fatalf("run at %v: %v\n%s", share, err, out)
		}
	}
	if midRun == 0 {
		t.Fatal("no run was killed before it finished: the test tested nothing")
	}
	got, want := scanComparable(t, ds), scanComparable(t, clean)
	if got.Rows == 0 || got.Rows != want.Rows || !reflect.DeepEqual(got.Sessions, want.Sessions) || !reflect.DeepEqual(got.Conns, want.Conns) {
		t.Errorf("after %d kills the dataset differs from one run: %d rows vs %d\n%s\n%s", midRun, got.Rows, want.Rows, got.Sessions, want.Sessions)
	}
	// Findings name files: the growing copy and the final folder differ in
	// path only.
	if g, w := strings.ReplaceAll(string(got.Findings), logs, "X"), strings.ReplaceAll(string(want.Findings), final, "X"); g != w {
		t.Errorf("findings differ:\n%.400s\n%.400s", g, w)
	}
	t.Logf("%d of 9 runs killed before they finished", midRun)
}

// TestTimeWindow: --since/--until keep the rows of the window, on raw logs
// and on a dataset alike, and say how many were left out.
func TestTimeWindow(t *testing.T) {
	logs, _ := filepath.Abs(filepath.Join("..", "..", "samples", "contoso"))
	ds := filepath.Join(t.TempDir(), "ds")
	ingest(t, "--out", ds, logs)
	window := []string{"--since", "2026-11-02T01:00:00Z", "--until", "2026-11-02 04:00"}
	code, out, errOut := runCLI(t, append(append([]string{"scan", "--format", "json"}, window...), logs)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep jsonReport
	json.Unmarshal([]byte(out), &rep)
	if rep.RowsOutside == 0 || rep.RowsRead != rep.RowsEmitted+rep.RowsRejected+rep.RowsOutside {
		t.Errorf("rows %d read = %d + %d + %d outside", rep.RowsRead, rep.RowsEmitted, rep.RowsRejected, rep.RowsOutside)
	}
	var titles []string
	for _, f := range rep.Findings {
		titles = append(titles, f.Title)
	}
	// 01:00-04:00 holds the relay from 198.51.100.77, not the 451 (from 09:12).
	if j := strings.Join(titles, "\n"); !strings.Contains(j, "198.51.100.77") || strings.Contains(j, "451 5.7.3") {
		t.Errorf("findings in the window:\n%s", j)
	}
	raw := scanComparable(t, append(window, logs)...)
	fromDS := scanComparable(t, append(window, ds)...)
	if raw.Rows != rep.RowsEmitted || fromDS.Rows != raw.Rows || !reflect.DeepEqual(fromDS.Findings, raw.Findings) {
		t.Errorf("window on the dataset: %d rows, on raw logs %d", fromDS.Rows, raw.Rows)
	}
	if code, _, errOut := runCLI(t, "scan", "--since", "yesterday", logs); code != 2 || !strings.Contains(errOut, "want a date") {
		t.Errorf("bad --since: exit %d %s", code, errOut)
	}
}
