package parser

import "golang.org/x/sys/cpu"

// useBlocks says whether lines take splitBlocks, whose assembly needs
// AVX2 (and TZCNT and POPCNT, which every CPU with AVX2 has); CPUs without
// it take splitWordsSWAR. Set once at start-up from
// CPUID (and the OS's saving of the AVX registers), never changed.
var useBlocks = cpu.X86.HasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasPOPCNT

// classifyAVX2 is classifyGo with AVX2, 32 bytes a compare
// (split_amd64.s). Only where useBlocks.
//
//go:noescape
func classifyAVX2(src, prev []byte, out *[maxBlocks]blockMasks) int

// splitRowAVX2 is splitBlocks's fast path for the line at the start of
// buf, up to its first '\n', when the line has no NUL, no non-ASCII byte
// and no doubled quote (nearly every row): it finds the fields, quoted
// ones too, and writes their spans in one pass (split_amd64.s), and
// updates m as splitMarks would, remember and prev. It declines (ok false,
// m untouched, spans written in part) any other line, a line with more
// fields than spans, a buf shorter than memoBytes, and a line whose '\n'
// is not in buf's whole 32-byte chunks: splitMarks takes those. Only
// where useBlocks.
//
//go:noescape
func splitRowAVX2(buf []byte, spans []span, m *splitMemo) (end, nf int, ok bool)
