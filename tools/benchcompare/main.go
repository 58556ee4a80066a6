// Command benchcompare measures logscan against the speed yardstick: DuckDB
// answering one of logscan's questions (anonymous relays) over the same
// receive logs, with ../shared/bench/duckdb-relay.mjs. It generates the
// organisation once (cached) with every incident the detectors look for,
// so that the scan's every detector has work, not only the parser: 1,600
// public addresses relaying through an open connector, the relay through a
// hidden NAT, 451 5.7.3 both ways, the blocklisting that follows, a
// compromised account, password spraying and hundreds of users sending with
// AUTH (1 GB: 0.67 GB of receive logs, what DuckDB reads). It warms the page cache, then runs
// `logscan scan --format json` and the DuckDB query alternately, pair by
// pair, and prints each pair's ratio of wall times, the median ratio, and
// each side's median wall time, CPU time and peak RSS. Machines are shared
// and noisy: only ratios taken within one run count.
//
// logscan runs twice in every pair: on the same input as DuckDB (the
// receive logs alone, hard-linked into a view of the folder), which is the
// yardstick's measure, and on the whole organisation with its send logs
// (1.6 times the bytes, for the blocklisting), which is what an admin runs.
//
//	go run ./tools/benchcompare -logscan bin/logscan -script ../shared/bench/duckdb-relay.mjs -node-dir tools/duckdb-bench
//
// `make bench-compare` runs it; `make bench-compare BENCH_SIZE=4GB` runs it
// on a 4 GB organisation, for peak RSS (one pair unless -pairs says more).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/logscan/logscan/tools/internal/rusage"
)

func main() {
	logscan := flag.String("logscan", "bin/logscan", "the logscan binary")
	script := flag.String("script", "../shared/bench/duckdb-relay.mjs", "the yardstick: duckdb-relay.mjs")
	nodeDir := flag.String("node-dir", "tools/duckdb-bench", "folder where @duckdb/node-api is installed (node runs from it)")
	accepted := flag.String("accepted", "contoso.com,*.contoso.com", "accepted domains, for the DuckDB query")
	size := flag.String("size", "1GB", "organisation to generate: the generator's -size")
	scale := flag.String("scale", "6", "the generator's -scale")
	incidents := flag.String("incidents", "-botnet 1600 -auth -compromise -more-incidents -connectivity",
		"the generator's incident flags: every detector has work (a relaying botnet, the NAT relay, 451 5.7.3, a blocklisting, a compromised account, password spraying, authenticated users)")
	seed := flag.String("seed", "2", "the generator's -seed")
	cache := flag.String("cache", filepath.Join(os.TempDir(), "logscan-bench-compare"), "where generated organisations are kept")
	data := flag.String("data", "", "measure this folder instead of generating one")
	pairs := flag.Int("pairs", 0, "logscan/DuckDB pairs to run (0: 5, or 1 at 2GB and more)")
	against := flag.String("against", "", "compare logscan with this other logscan binary (before/after a change) instead of DuckDB")
	flag.Parse()

	dir := *data
	if dir == "" {
		var err error
		dir, err = generate(*cache, *size, *scale, *seed, strings.Fields(*incidents))
		if err != nil {
			fail(err)
		}
	}
	total, recv, err := sizes(dir)
	if err != nil {
		fail(err)
	}
	n := *pairs
	if n <= 0 {
		n = 5
		if total >= 2<<30 {
			n = 1
		}
	}
	bin, _ := filepath.Abs(*logscan)
	js, _ := filepath.Abs(*script)
	if _, err := os.Stat(js); err != nil {
		fail(fmt.Errorf("the yardstick script: %w (set SHARED_BENCH to the folder holding duckdb-relay.mjs)", err))
	}
	fmt.Printf("data: %s: %.1f MB in all, %.1f MB of receive logs (what DuckDB reads)\n", dir, float64(total)/1e6, float64(recv)/1e6)
	// The sides, in the order each pair runs them; the ratios are taken
	// against the last one (DuckDB, or the other build).
	var sides []side
	if *against != "" {
		old, _ := filepath.Abs(*against)
		sides = []side{
			{label: "logscan scan --format json", cmd: command{name: "logscan", argv: []string{bin, "scan", "--format", "json", dir}}, input: total},
			{label: "other: " + *against, cmd: command{name: "other", argv: []string{old, "scan", "--format", "json", dir}}, input: total},
		}
	} else {
		view := filepath.Join(*cache, "receive-view")
		if err := receiveView(dir, view); err != nil {
			fail(err)
		}
		fmt.Printf("same input: %s holds the receive logs alone (hard links), what DuckDB reads\n", view)
		sides = []side{
			{label: "logscan, same input as DuckDB", short: "logscan receive logs", cmd: command{name: "logscan", argv: []string{bin, "scan", "--format", "json", view}}, input: recv},
			{label: "logscan, whole organisation", short: "logscan all logs", cmd: command{name: "logscan", argv: []string{bin, "scan", "--format", "json", dir}}, input: total},
			{label: "duckdb relay query", short: "duckdb", cmd: command{name: "duckdb", argv: []string{"node", js, dir, *accepted}, dir: *nodeDir}, input: recv},
		}
	}
	fmt.Printf("load average before: %s\n", loadavg())
	// Warm the page cache (and DuckDB's install) once; not counted.
	for _, s := range sides {
		if _, err := s.cmd.run(true); err != nil {
			fail(err)
		}
	}
	base := &sides[len(sides)-1]
	for i := range n {
		line := fmt.Sprintf("pair %d:", i+1)
		for j := range sides {
			r, err := sides[j].cmd.run(false)
			if err != nil {
				fail(err)
			}
			sides[j].runs = append(sides[j].runs, r)
			line += fmt.Sprintf(" %s %s |", sides[j].shortName(), r)
		}
		b := base.runs[i]
		for j := range sides[:len(sides)-1] {
			a := sides[j].runs[i]
			sides[j].ratios = append(sides[j].ratios, a.wall.Seconds()/b.wall.Seconds())
			sides[j].cpuRatios = append(sides[j].cpuRatios, a.cpu.Seconds()/b.cpu.Seconds())
			line += fmt.Sprintf(" ratio %.2f", sides[j].ratios[i])
		}
		fmt.Println(line)
	}
	fmt.Printf("load average after:  %s\n\n", loadavg())
	for _, s := range sides[:len(sides)-1] {
		fmt.Printf("median ratio %s / %s, wall: %.2f  (%d pairs, alternating, warm cache; CPU time ratio %.2f)\n",
			s.label, base.label, median(s.ratios), n, median(s.cpuRatios))
	}
	for _, s := range sides {
		wall := median(field(s.runs, func(r result) float64 { return r.wall.Seconds() }))
		rss := field(s.runs, func(r result) float64 { return float64(r.rss) / (1 << 20) })
		fmt.Printf("%-30s median wall %.2fs  cpu %.2fs  peak RSS %.0f MiB (max %.0f)  %.0f MB/s of what it reads\n", s.label,
			wall, median(field(s.runs, func(r result) float64 { return r.cpu.Seconds() })), median(rss), slices.Max(rss),
			float64(s.input)/1e6/wall)
	}
	if base.cmd.name == "duckdb" && base.runs[0].out != "" {
		fmt.Printf("duckdb said: %s\n", base.runs[0].out)
	}
}

// side is one command of the comparison and its runs.
type side struct {
	label, short      string
	cmd               command
	input             int64 // bytes it reads, for MB/s
	runs              []result
	ratios, cpuRatios []float64 // against the last side, pair by pair
}

func (s side) shortName() string {
	if s.short != "" {
		return s.short
	}
	return s.cmd.name
}

// receiveView makes view a tree of the receive logs under dir alone, at
// the same relative paths: hard links, or copies where the file system
// refuses them. It is made afresh each run, so it always matches dir.
func receiveView(dir, view string) error {
	if err := os.RemoveAll(view); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isReceiveLog(d.Name()) {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		to := filepath.Join(view, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if os.Link(p, to) == nil {
			return nil
		}
		return copyFile(p, to)
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// isReceiveLog is what duckdb-relay.mjs reads: RECV*.LOG.
func isReceiveLog(name string) bool {
	n := strings.ToUpper(name)
	return strings.HasPrefix(n, "RECV") && strings.HasSuffix(n, ".LOG")
}

type command struct {
	name string
	argv []string
	dir  string
}

type result struct {
	wall, cpu time.Duration
	rss       int64
	out       string
}

func (r result) String() string {
	return fmt.Sprintf("%6.2fs wall %6.2fs cpu %4.0f MiB", r.wall.Seconds(), r.cpu.Seconds(), float64(r.rss)/(1<<20))
}

// run runs c with its output discarded (DuckDB's one line is kept).
func (c command) run(warm bool) (result, error) {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	var out strings.Builder
	cmd.Stdout = io.Discard
	if c.name == "duckdb" {
		cmd.Stdout = &out
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%s: %v", strings.Join(c.argv, " "), err)
	}
	ps := cmd.ProcessState
	return result{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rss: rusage.MaxRSS(ps), out: strings.TrimSpace(out.String())}, nil
}

// generate writes the organisation once under cache, keyed by the
// generator's arguments and source, and returns its folder.
func generate(cache, size, scale, seed string, incidents []string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, size, scale, seed, incidents)
	for _, d := range []string{"samples/gen", "samples/generate"} {
		files, _ := filepath.Glob(filepath.Join(d, "*.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			h.Write(b)
		}
	}
	key := hex.EncodeToString(h.Sum(nil))[:12]
	dir := filepath.Join(cache, size+"-"+key)
	if _, err := os.Stat(dir + ".done"); err == nil {
		return dir, nil
	}
	// One organisation per size: older ones (another generator) go.
	old, _ := filepath.Glob(filepath.Join(cache, size+"-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	args := append([]string{"run", "./samples/generate", "-out", dir, "-size", size, "-scale", scale, "-seed", seed}, incidents...)
	fmt.Printf("generating: go %s\n", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("generate: %v", err)
	}
	return dir, os.WriteFile(dir+".done", nil, 0o644)
}

// sizes returns the bytes of every file under dir, and of the receive logs.
func sizes(dir string) (total, recv int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		if isReceiveLog(d.Name()) {
			recv += fi.Size()
		}
		return nil
	})
	return total, recv, err
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func field(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchcompare:", err)
	os.Exit(1)
}
