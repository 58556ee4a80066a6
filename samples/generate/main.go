// Command generate writes the Contoso sample organisation's protocol logs.
//
//	go run ./samples/generate -out samples/contoso -scale 0.1 -live-tail  # the committed demo sample
//	go run ./samples/generate -out /tmp/big -size 2GB -scale 40  # a corpus for benchmarks
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/logscan/logscan/samples/gen"
)

func main() {
	out := flag.String("out", "samples/contoso", "output folder (created)")
	hours := flag.Int("hours", 24, "hours of logs (at least)")
	size := flag.String("size", "", "keep adding hours until this much is written, e.g. 200MB, 2GB")
	scale := flag.Float64("scale", 1, "traffic multiplier")
	seed := flag.Uint64("seed", 1, "random seed; the same seed writes the same files")
	start := flag.String("start", "2026-11-02T00:00:00Z", "first hour, RFC 3339")
	liveTail := flag.Bool("live-tail", false, "cut each folder's last file mid-row, as a copy of a live log")
	clean := flag.Bool("clean", false, "the same organisation without its three incidents")
	connectivity := flag.Bool("connectivity", false, "also write each server's Transport connectivity logs (Hub\\Connectivity\\CONNECTLOG*.LOG)")
	auth := flag.Bool("auth", false, "add hundreds of users submitting with AUTH, service accounts and password guessing from the Internet")
	compromise := flag.Bool("compromise", false, "add one compromised account sending spam (and the blocklisting that follows)")
	accounts := flag.Int("accounts", 0, "with -auth: how many users submit with AUTH (0: 200 or more, an organisation's worth)")
	botnet := flag.Int("botnet", 0, "public sources relaying through EX02's Default Frontend connector from 14:10 (0: none)")
	more := flag.Bool("more-incidents", false, "the load balancer also fronts EX01, and EX03 -> EX02 fails with 451 5.7.3 too")
	flag.Parse()
	cfg := gen.Config{Hours: *hours, Scale: *scale, Seed: *seed, LiveTail: *liveTail, Clean: *clean, ConnectivityLogs: *connectivity, Botnet: *botnet, MoreIncidents: *more,
		Auth: *auth, Compromise: *compromise, Accounts: *accounts}
	if err := run(*out, *size, *start, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(2)
	}
}

func run(out, size, start string, cfg gen.Config) error {
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	target, err := parseSize(size)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	cfg.Start, cfg.TargetBytes = t, target
	st, err := gen.Generate(cfg,
		func(p string) (io.WriteCloser, error) {
			full := filepath.Join(out, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return nil, err
			}
			return os.Create(full)
		})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d files (%d connectivity logs), %d rows, %d sessions, %.1f MB to %s; %d failed 451 5.7.3 attempts\n",
		st.Files, st.ConnectivityFiles, st.Rows, st.Sessions, float64(st.Bytes)/1e6, out, st.ExchangeAuthAttempts)
	if c := st.Auth.Compromise; c != nil {
		fmt.Printf("compromised account %s (%s): %d session(s) from %s, %s to %s, %d message(s) to %d outside recipient(s) in %d domain(s)\n",
			c.Account, c.Logon, c.Sessions, strings.Join(c.Sources, ", "), c.First.Format(time.RFC3339), c.Last.Format(time.RFC3339), c.Messages, c.Recipients, len(c.Domains))
	}
	if bl := st.Incidents.Blocklisting; bl.Sessions > 0 {
		fmt.Printf("blocklisted: %s refused %d times (%d recipients) from %s\n", bl.IP, bl.Refusals, bl.RecipientsRefused, bl.First.Format(time.RFC3339))
	}
	return nil
}

func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, x := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, x.suffix) {
			u, mult = strings.TrimSuffix(u, x.suffix), x.m
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size like 200MB", s)
	}
	return int64(n * float64(mult)), nil
}
