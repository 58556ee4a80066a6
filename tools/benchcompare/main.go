// Command benchcompare measures logscan against the speed yardstick: DuckDB
// answering one of logscan's questions (anonymous relays) over the same
// receive logs, with ../shared/bench/duckdb-relay.mjs. It generates the
// organisation once (cached) with every incident the detectors look for,
// so that the scan's every detector has work, not only the parser: 1,600
// public addresses relaying through an open connector, the relay through a
// hidden NAT, 451 5.7.3 both ways, the blocklisting that follows, a
// compromised account, password spraying and hundreds of users sending with
// AUTH (1 GB: 0.67 GB of receive logs, what DuckDB reads). It warms the page cache, then runs
// `logscan scan --format json DIR` and the DuckDB query alternately, pair by
// pair, and prints each pair's ratio of wall times, the median ratio, and
// each side's median wall time, CPU time and peak RSS. Machines are shared
// and noisy: only ratios taken within one run count.
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
	ls := command{name: "logscan", argv: []string{bin, "scan", "--format", "json", dir}}
	dk := command{name: "duckdb", argv: []string{"node", js, dir, *accepted}, dir: *nodeDir}
	other, otherInput := "duckdb relay query", recv
	if *against != "" {
		old, _ := filepath.Abs(*against)
		dk = command{name: "other", argv: []string{old, "scan", "--format", "json", dir}}
		other, otherInput = "other: "+*against, total
	}

	fmt.Printf("data: %s: %.1f MB in all, %.1f MB of receive logs (what DuckDB reads)\n", dir, float64(total)/1e6, float64(recv)/1e6)
	fmt.Printf("load average before: %s\n", loadavg())
	// Warm the page cache (and DuckDB's install) once; not counted.
	for _, c := range []command{ls, dk} {
		if _, err := c.run(true); err != nil {
			fail(err)
		}
	}
	var lsRuns, dkRuns []result
	var ratios, cpuRatios []float64
	for i := range n {
		a, err := ls.run(false)
		if err != nil {
			fail(err)
		}
		b, err := dk.run(false)
		if err != nil {
			fail(err)
		}
		lsRuns, dkRuns = append(lsRuns, a), append(dkRuns, b)
		r := a.wall.Seconds() / b.wall.Seconds()
		ratios, cpuRatios = append(ratios, r), append(cpuRatios, a.cpu.Seconds()/b.cpu.Seconds())
		fmt.Printf("pair %d: logscan %s | %s %s | ratio %.2f\n", i+1, a, dk.name, b, r)
	}
	fmt.Printf("load average after:  %s\n", loadavg())
	fmt.Printf("\nmedian ratio logscan/%s wall: %.2f  (%d pairs, alternating, warm cache; CPU time ratio %.2f)\n", dk.name, median(ratios), n, median(cpuRatios))
	for _, s := range []struct {
		name  string
		rs    []result
		input int64
	}{{"logscan scan --format json", lsRuns, total}, {other, dkRuns, otherInput}} {
		wall := median(field(s.rs, func(r result) float64 { return r.wall.Seconds() }))
		rss := field(s.rs, func(r result) float64 { return float64(r.rss) / (1 << 20) })
		fmt.Printf("%-27s median wall %.2fs  cpu %.2fs  peak RSS %.0f MiB (max %.0f)  %.0f MB/s of what it reads\n", s.name,
			wall, median(field(s.rs, func(r result) float64 { return r.cpu.Seconds() })), median(rss), slices.Max(rss),
			float64(s.input)/1e6/wall)
	}
	if dk.name == "duckdb" && dkRuns[0].out != "" {
		fmt.Printf("duckdb said: %s\n", dkRuns[0].out)
	}
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
		if n := strings.ToUpper(d.Name()); strings.HasPrefix(n, "RECV") && strings.HasSuffix(n, ".LOG") {
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
