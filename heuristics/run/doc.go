// Package run is logscan's one entry point to an analysis: it takes a
// context and a Config, reads raw logs (parser) or datasets (store), feeds
// the detectors (heuristics), carries state between incremental runs, and
// returns everything the command needs to render. Ingest writes a dataset.
package run
