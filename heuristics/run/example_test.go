package run_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/logscan/logscan/heuristics/run"
)

// Scan is the whole analysis: paths in, findings and the summary out. What
// the organisation is (accepted domains, Exchange servers) is inferred from
// the logs when Config.Org leaves it empty.
func ExampleScan() {
	res, err := run.Scan(context.Background(), run.Config{
		Paths:   []string{filepath.Join("..", "..", "samples", "contoso")},
		Workers: 2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d files, %d sessions\n", len(res.Files.Files), res.Analysis.Sessions.Total)
	for _, f := range res.Analysis.Findings {
		fmt.Printf("[%s] %s\n", f.Severity, f.Detector)
	}
	// Output:
	// 360 files, 4438 sessions
	// [critical] compromised-account
	// [critical] hidden-snat
	// [critical] anonymous-relay
	// [high] anonymous-relay
	// [high] blocklisted
	// [high] exchange-auth-5.7.3
	// [high] blocklisted
}
