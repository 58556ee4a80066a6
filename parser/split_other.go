//go:build !amd64

package parser

// useBlocks says whether lines take splitBlocks: not without AVX2's
// classifier, on this architecture. Tests still take it, with classifyGo.
const useBlocks = false

// classifyAVX2 is never called here (useBlocks is false): classifyGo
// stands in for it, so that splitBlocks reads the same everywhere.
func classifyAVX2(src, prev []byte, out *[maxBlocks]blockMasks) int {
	return classifyGo(src, prev, out)
}

// splitRowAVX2 is never called here (useBlocks is false).
func splitRowAVX2(buf []byte, spans []span, m *splitMemo) (end, nf int, ok bool) {
	return 0, 0, false
}
