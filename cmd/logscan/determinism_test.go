package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/logscan/logscan/heuristics/session"
	"github.com/logscan/logscan/samples/gen"
	"github.com/logscan/logscan/store"
)

// filesUnder lists the regular files under each path, sorted.
func filesUnder(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasSuffix(q, ".json") {
				out = append(out, q)
			}
			return err
		})
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("no files under %v", paths)
	}
	return out
}

// reusedIDFiles writes the case that made the default workers give 17 or
// 18 sessions: a session-id whose complete session is in one file and
// more rows of which are in another, for several ids and both orders.
func reusedIDFiles(t *testing.T) string {
	dir := t.TempDir()
	conn := `EX01\Default Frontend EX01`
	var a, b strings.Builder
	a.WriteString(hostileFields)
	b.WriteString(hostileFields)
	for i := range 8 {
		sid := fmt.Sprintf("08DD00000000A%03X", i)
		whole := smtpSession(conn, sid, "10.0.0.1:25", fmt.Sprintf("203.0.113.%d:4000", i+1), "a.example", "a@a.example",
			"SMTPSubmit SMTPAcceptAnySender", "bob@contoso.com")
		// Half the ids: the stray rows sort first; the other half, last.
		stray := hrow(30, conn, sid, 5, "10.0.0.1:25", fmt.Sprintf("203.0.113.%d:4000", i+1), "<", "RCPT TO:<eve@contoso.com>", "") +
			hrow(30, conn, sid, 6, "10.0.0.1:25", fmt.Sprintf("203.0.113.%d:4000", i+1), ">", "250 2.1.5 Recipient OK", "")
		if i%2 == 0 {
			a.WriteString(whole)
			b.WriteString(stray)
		} else {
			a.WriteString(stray)
			b.WriteString(whole)
		}
	}
	os.WriteFile(filepath.Join(dir, "RECV2026110210-1.LOG"), []byte(a.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "RECV2026110210-2.LOG"), []byte(b.String()), 0o644)
	return dir
}

// generatedOrg writes a generated organisation: a few MB with -short, at
// least 200 MB otherwise.
func generatedOrg(t *testing.T) string {
	dir := t.TempDir()
	cfg := gen.Config{Hours: 24, Scale: 0.3, Seed: 11, LiveTail: true}
	if !testing.Short() {
		cfg = gen.Config{Hours: 24, Scale: 2, Seed: 11, LiveTail: true, TargetBytes: 200 << 20}
	}
	st := genOrg(t, dir, cfg)
	t.Logf("generated organisation: %d files, %.1f MB, %d sessions", st.Files, float64(st.Bytes)/1e6, st.Sessions)
	return dir
}

// TestSameInputSameAnswer: the same files give the same report, byte for
// byte, in text, JSON and CSV, whatever the worker count (1, 2, 8), from
// run to run (three each), and whatever the order the files are named in
// on the command line.
func TestSameInputSameAnswer(t *testing.T) {
	realdata := filepath.Join("..", "..", "parser", "testdata", "realdata")
	inputs := []struct {
		name  string
		files []string
	}{
		{"realdata", filesUnder(t, realdata)},
		{"hostile", filesUnder(t, filepath.Join("testdata", "hostile"))},
		{"session-id in two files", filesUnder(t, reusedIDFiles(t))},
		{"contoso", filesUnder(t, filepath.Join("..", "..", "samples", "contoso"))},
		{"generated", filesUnder(t, generatedOrg(t))},
	}
	for _, f := range filesUnder(t, realdata) {
		inputs = append(inputs, struct {
			name  string
			files []string
		}{filepath.Base(f), []string{f}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			want := map[string]string{}
			for _, workers := range []int{1, 2, 8} {
				for run := range 3 {
					files := slices.Clone(in.files)
					if run > 0 || workers > 1 {
						rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
					}
					for _, format := range []string{"text", "json", "csv"} {
						args := append([]string{"scan", "--workers", fmt.Sprint(workers), "--format", format}, files...)
						code, out, errOut := runCLI(t, args...)
						if code != exitOK && code != exitError {
							t.Fatalf("%s, %d workers: exit %d: %s", format, workers, code, errOut)
						}
						// The exit status and stderr are output too (a file
						// with no well-formed row exits 2, every time).
						out = fmt.Sprintf("exit %d\n%s\n--- stderr\n%s", code, out, errOut)
						if w, ok := want[format]; !ok {
							want[format] = out
						} else if out != w {
							t.Fatalf("%s output differs with %d workers (run %d, files shuffled): first difference at %s", format, workers, run+1, firstDifference(w, out))
						}
					}
				}
			}
		})
	}
}

// firstDifference shows the first line where a and b differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  was: %.300s\n  now: %.300s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("length %d vs %d lines", len(al), len(bl))
}

// TestSameInputSameDataset: ingest writes the same sessions table, and
// says the same "written, open", whatever the worker count and file order.
func TestSameInputSameDataset(t *testing.T) {
	sample := filesUnder(t, filepath.Join("..", "..", "samples", "contoso"))
	reused := filesUnder(t, reusedIDFiles(t))
	rng := rand.New(rand.NewPCG(3, 4))
	for _, in := range []struct {
		name  string
		files []string
	}{{"contoso", sample}, {"session-id in two files", reused}} {
		t.Run(in.name, func(t *testing.T) {
			var wantTable []string
			var wantLine string
			for _, workers := range []int{1, 2, 8} {
				for run := range 3 {
					files := slices.Clone(in.files)
					if run > 0 || workers > 1 {
						rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
					}
					ds := filepath.Join(t.TempDir(), "ds")
					out := ingest(t, append([]string{"--out", ds, "--workers", fmt.Sprint(workers)}, files...)...)
					line := lineWith(out, "Sessions:")
					table := sessionsTable(t, ds)
					if wantTable == nil {
						wantTable, wantLine = table, line
						continue
					}
					if line != wantLine {
						t.Errorf("%d workers, run %d: %q, first run %q", workers, run+1, line, wantLine)
					}
					if !slices.Equal(table, wantTable) {
						t.Fatalf("%d workers, run %d: sessions table differs (%d rows, first run %d): %s", workers, run+1, len(table), len(wantTable),
							firstDifference(strings.Join(wantTable, "\n"), strings.Join(table, "\n")))
					}
				}
			}
		})
	}
}

func lineWith(out, prefix string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// sessionsTable reads a dataset's sessions table as one sorted line per
// session.
func sessionsTable(t *testing.T, dir string) []string {
	t.Helper()
	d, err := store.OpenRead(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	err = d.Read(context.Background(), "sessions", session.Schema, 1, nil, func(_ int, rec arrow.Record) error {
		for i := range int(rec.NumRows()) {
			var b strings.Builder
			for c := range int(rec.NumCols()) {
				b.WriteString(rec.Column(c).ValueStr(i))
				b.WriteByte('|')
			}
			rows = append(rows, b.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	return rows
}
