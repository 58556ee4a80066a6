package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/logscan/logscan/store"
)

// progressEvery is how often the progress line is redrawn: often enough to
// look alive, rarely enough to cost nothing next to the read.
const progressEvery = 100 * time.Millisecond

// progress shows how a long read goes on stderr: bytes and files read of
// the total (sizes of plain files are known up front), rows per second and
// the time left. The workers only add to atomic counters; one goroutine
// draws, at most every progressEvery. A nil *progress does nothing, so
// callers need not ask whether it is shown.
type progress struct {
	bytes, files, rows atomic.Int64
	totalFiles         int64
	bar                *progressbar.ProgressBar
	start              time.Time
	stopOnce           sync.Once
	done               chan struct{}
	wg                 sync.WaitGroup
}

// startProgress starts drawing to w for a read of paths, or returns nil
// when progress is not to be shown: stderr is not a terminal, or --quiet.
func startProgress(io *IOStreams, paths []string, quiet bool) *progress {
	if quiet || !io.StderrTTY {
		return nil
	}
	return newProgress(io.ErrOut, paths)
}

func newProgress(w io.Writer, paths []string) *progress {
	totalBytes, totalFiles := sizeOf(paths)
	p := &progress{totalFiles: totalFiles, start: time.Now(), done: make(chan struct{})}
	p.bar = progressbar.NewOptions64(max(totalBytes, 1),
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionSetPredictTime(true), // the time left
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionThrottle(progressEvery),
		progressbar.OptionClearOnFinish(),
		// The first line drawn already names the files to read: a read
		// shorter than progressEvery is never redrawn.
		progressbar.OptionSetDescription(p.describe(0, 0)),
		progressbar.OptionSetRenderBlankState(true),
	)
	p.wg.Go(p.loop)
	return p
}

// add counts what the scan read: run.Config.Progress.
func (p *progress) add(bytes, files, rows int64) {
	if bytes != 0 {
		p.bytes.Add(bytes)
	}
	if files != 0 {
		p.files.Add(files)
	}
	if rows != 0 {
		p.rows.Add(rows)
	}
}

// callback is p.add, or nil when p is nil (no progress: no cost at all).
func (p *progress) callback() func(bytes, files, rows int64) {
	if p == nil {
		return nil
	}
	return p.add
}

func (p *progress) loop() {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	secs := max(time.Since(p.start).Seconds(), 1e-3)
	p.bar.Describe(p.describe(p.files.Load(), int64(float64(p.rows.Load())/secs)))
	p.bar.Set64(p.bytes.Load())
}

// describe is the progress line's text before the bar.
func (p *progress) describe(files, rowsPerSec int64) string {
	return fmt.Sprintf("files %s/%s · %s rows/s", num(files), num(p.totalFiles), num(rowsPerSec))
}

// stop stops drawing and clears the line, before the report is written.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		close(p.done)
		p.wg.Wait()
		p.bar.Clear()
	})
}

// sizeOf adds up the sizes of the regular files under paths as the parser
// will find them (links to folders are not followed); datasets made by
// ingest are left out, their rows are counted as they are read.
func sizeOf(paths []string) (bytes, files int64) {
	for _, p := range paths {
		if store.IsDataset(p) {
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !info.IsDir() {
			if info.Mode().IsRegular() {
				bytes, files = bytes+info.Size(), files+1
			}
			continue
		}
		filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			switch {
			case d.Type().IsRegular():
				if fi, err := d.Info(); err == nil {
					bytes, files = bytes+fi.Size(), files+1
				}
			case d.Type()&fs.ModeSymlink != 0:
				if fi, err := os.Stat(q); err == nil && fi.Mode().IsRegular() {
					bytes, files = bytes+fi.Size(), files+1
				}
			}
			return nil
		})
	}
	return bytes, files
}
