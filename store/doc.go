// Package store writes record streams as a partitioned dataset of Parquet
// (or Arrow IPC stream) files with a manifest, and reads them back. It knows
// nothing of detectors or of what the columns mean: callers give it records,
// a schema and the columns to partition by.
package store
