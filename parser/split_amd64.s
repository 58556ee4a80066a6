#include "go_asm.h"
#include "textflag.h"

// func classifyAVX2(src, prev []byte, out *[maxBlocks]blockMasks) int
//
// Per 64-byte block, two 32-byte halves: VPCMPEQB against a byte spread
// over a register, VPMOVMSKB to 32 bits, the halves joined in a 64-bit
// mask. It reads src's whole blocks only, never past its end.
TEXT ·classifyAVX2(SB), NOSPLIT, $0-64
	MOVQ src_base+0(FP), SI
	MOVQ src_len+8(FP), CX
	SHRQ $6, CX                 // whole blocks (blockBytes) in src
	CMPQ CX, $const_maxBlocks
	JLE  blocksSet
	MOVQ $const_maxBlocks, CX

blocksSet:
	MOVQ prev_base+24(FP), DI
	MOVQ prev_len+32(FP), R8
	SHRQ $6, R8                 // blocks to compare with prev
	MOVQ out+48(FP), DX
	XORQ R9, R9                 // blocks done

	MOVL         $0x2c, AX      // ','
	MOVQ         AX, X10
	VPBROADCASTB X10, Y10
	MOVL         $0x22, AX      // '"'
	MOVQ         AX, X11
	VPBROADCASTB X11, Y11
	MOVL         $0x0a, AX      // '\n'
	MOVQ         AX, X12
	VPBROADCASTB X12, Y12
	VPXOR        Y13, Y13, Y13  // NUL

loop:
	CMPQ    R9, CX
	JGE     done
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1

	// blockMasks.comma
	VPCMPEQB  Y10, Y0, Y2
	VPCMPEQB  Y10, Y1, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ      $32, BX
	ORQ       BX, AX
	MOVQ      AX, blockMasks_comma(DX)

	// blockMasks.quote
	VPCMPEQB  Y11, Y0, Y2
	VPCMPEQB  Y11, Y1, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ      $32, BX
	ORQ       BX, AX
	MOVQ      AX, blockMasks_quote(DX)

	// blockMasks.newline, kept in R10 for the test at the loop's end
	VPCMPEQB  Y12, Y0, Y2
	VPCMPEQB  Y12, Y1, Y3
	VPMOVMSKB Y2, R10
	VPMOVMSKB Y3, BX
	SHLQ      $32, BX
	ORQ       BX, R10
	MOVQ      R10, blockMasks_newline(DX)

	// blockMasks.bad: a NUL (all ones after the compare) or a byte of
	// 0x80 or more (its own high bit): VPMOVMSKB takes the high bits.
	VPCMPEQB  Y13, Y0, Y2
	VPCMPEQB  Y13, Y1, Y3
	VPOR      Y0, Y2, Y2
	VPOR      Y1, Y3, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ      $32, BX
	ORQ       BX, AX
	MOVQ      AX, blockMasks_bad(DX)

	// blockMasks.equalPairs, and the block stored in prev's place.
	// VPACKSSWB packs each lane's 16-bit results to bytes, a lane of
	// the first register and then one of the second: the qwords hold
	// pairs 0-7, 16-23, 8-15 and 24-31, put in order by VPERMQ.
	XORQ      AX, AX
	CMPQ      R9, R8
	JGE       equalSet
	VMOVDQU   0(DI), Y2
	VMOVDQU   32(DI), Y3
	VPCMPEQW  Y2, Y0, Y2
	VPCMPEQW  Y3, Y1, Y3
	VPACKSSWB Y3, Y2, Y2
	VPERMQ    $0xd8, Y2, Y2
	VPMOVMSKB Y2, AX
	VMOVDQU   Y0, 0(DI)
	VMOVDQU   Y1, 32(DI)
	ADDQ      $64, DI

equalSet:
	MOVQ AX, blockMasks_equalPairs(DX)

	ADDQ  $64, SI
	ADDQ  $blockMasks__size, DX
	INCQ  R9
	TESTQ R10, R10
	JZ    loop

done:
	VZEROUPPER
	MOVQ R9, ret+56(FP)
	RET

// func splitRowAVX2(buf []byte, spans []span, m *splitMemo) (end, nf int, ok bool)
//
// 32 bytes a step: the commas, the line ends, and the bytes that need a
// look (quotes, NULs, bytes of 0x80 or more), each a VPCMPEQB and a
// VPMOVMSKB; the commas before the line end are walked with BSF into
// spans. A quoted field is searched for its closing quote, 32 bytes a
// step, and the byte after it read. It reads whole 32-byte chunks of buf
// and bytes of buf only. The memo's part is splitMemo.remember's, at the
// end.
//
// Registers: SI buf, R8 len(buf), DI spans, R9 len(spans)-1, R10 nf, R11
// where the open field starts, R12 where the chunk starts, R13 the line's
// end; AX, BX, CX, DX as they come.
TEXT ·splitRowAVX2(SB), NOSPLIT, $32-73
	MOVQ buf_base+0(FP), SI
	MOVQ buf_len+8(FP), R8
	MOVQ spans_base+24(FP), DI
	MOVQ spans_len+32(FP), R9
	DECQ R9                     // a field needs nf <= R9, a comma nf < R9
	MOVB $0, ok+72(FP)
	CMPQ R8, $const_memoBytes   // compared below
	JLT  short
	MOVQ $0, commas0-8(SP)      // the commas among the first memoBytes,
	MOVQ $0, commas1-16(SP)     // as far as the first quote
	MOVQ $const_memoBytes, plainEnd-32(SP) // min(the first quote, memoBytes)

	// Which pairs of the first 128 bytes are the line before's, as in
	// classifyAVX2. Y4-Y7 keep the bytes, stored in prev's place once
	// the line is taken.
	MOVQ      m+48(FP), BX
	VMOVDQU   0(SI), Y4
	VMOVDQU   32(SI), Y5
	VMOVDQU   64(SI), Y6
	VMOVDQU   96(SI), Y7
	VPCMPEQW  splitMemo_prev+0(BX), Y4, Y0
	VPCMPEQW  splitMemo_prev+32(BX), Y5, Y1
	VPACKSSWB Y1, Y0, Y0
	VPERMQ    $0xd8, Y0, Y0
	VPMOVMSKB Y0, AX
	VPCMPEQW  splitMemo_prev+64(BX), Y6, Y0
	VPCMPEQW  splitMemo_prev+96(BX), Y7, Y1
	VPACKSSWB Y1, Y0, Y0
	VPERMQ    $0xd8, Y0, Y0
	VPMOVMSKB Y0, DX
	SHLQ      $32, DX
	ORQ       DX, AX
	MOVQ      AX, equalPairs-24(SP)

	MOVL         $0x2c, AX      // ','
	MOVQ         AX, X10
	VPBROADCASTB X10, Y10
	MOVL         $0x22, AX      // '"'
	MOVQ         AX, X11
	VPBROADCASTB X11, Y11
	MOVL         $0x0a, AX      // '\n'
	MOVQ         AX, X12
	VPBROADCASTB X12, Y12
	VPXOR        Y13, Y13, Y13  // NUL

	XORQ R10, R10
	XORQ R11, R11
	XORQ R12, R12

chunk:
	LEAQ      32(R12), AX
	CMPQ      AX, R8
	JGT       fail              // no line end in buf's whole chunks
	VMOVDQU   (SI)(R12*1), Y0
	VPCMPEQB  Y10, Y0, Y1
	VPMOVMSKB Y1, BX            // commas
	VPCMPEQB  Y12, Y0, Y1
	VPMOVMSKB Y1, CX            // line ends
	VPCMPEQB  Y11, Y0, Y1
	VPCMPEQB  Y13, Y0, Y2
	VPOR      Y1, Y2, Y2
	VPOR      Y0, Y2, Y2
	VPMOVMSKB Y2, DX            // quotes, NULs, bytes of 0x80 or more

	// Only the bytes before the line end are the line's.
	MOVL  $0xffffffff, AX
	TESTL CX, CX
	JZ    below
	BSFL  CX, R13               // the line end, in the chunk
	MOVL  CX, AX
	NEGL  AX
	ANDL  CX, AX
	DECL  AX

below:
	ANDL AX, BX
	ANDL AX, DX
	JZ   record

	// A quote, or a byte that declines the line. Only the commas before
	// the first quote are this field's, and the quote must open it.
	VPMOVMSKB Y1, AX            // quotes (Y1 from VPCMPEQB against '"')
	ANDL      DX, AX
	XORL      AX, DX
	JNZ       fail              // a NUL or a byte of 0x80 or more
	MOVL      AX, DX            // the quotes, for after the walk
	NEGL      AX
	ANDL      DX, AX
	DECL      AX
	ANDL      AX, BX            // the commas before the first quote
	BSFL      DX, AX
	ADDQ      R12, AX
	CMPQ      AX, plainEnd-32(SP)
	JGE       record
	MOVQ      AX, plainEnd-32(SP) // the first quote, if before memoBytes

	// commas0 and commas1, 32 bits a chunk, written 64 bits at a time:
	// a 64-bit load of what two 32-bit stores wrote would wait for them
	// (no store forwarding). Only chunks at 0, 32, 64 and 96 before the
	// first quote: every chunk after a quoted field starts past it.
record:
	CMPQ  R12, plainEnd-32(SP)
	JGE   walk
	MOVL  BX, AX
	TESTQ $32, R12
	JZ    lowHalf
	SHLQ  $32, AX

lowHalf:
	TESTQ $64, R12
	JNZ   second
	ORQ   AX, commas0-8(SP)
	JMP   walk

second:
	ORQ AX, commas1-16(SP)

walk:
	TESTL BX, BX
	JZ    walked
	BSFL  BX, AX
	ADDQ  R12, AX               // the comma's place in the line
	CMPQ  R10, R9
	JGE   fail                  // a comma means one more field
	MOVL  R11, (DI)(R10*8)      // span{start, comma}
	MOVL  AX, 4(DI)(R10*8)
	INCQ  R10
	LEAQ  1(AX), R11
	LEAL  -1(BX), AX
	ANDL  AX, BX
	JMP   walk

walked:
	TESTL DX, DX
	JNZ   quoted
	TESTL CX, CX
	JNZ   lineEnd
	ADDQ  $32, R12
	JMP   chunk

lineEnd:
	ADDQ  R12, R13              // end
	CMPQ  R10, R9
	JG    fail                  // no room for the last field
	MOVQ  R13, AX               // its end: a '\r' before the '\n' cut off
	TESTQ AX, AX
	JZ    last
	CMPB  -1(SI)(AX*1), $0x0d
	JNE   last
	DECQ  AX

last:
	MOVL R11, (DI)(R10*8)
	MOVL AX, 4(DI)(R10*8)
	INCQ R10
	JMP  taken

	// A quoted field: its opening quote must start the field, and its
	// closing quote (the first quote after it: a doubled quote, which
	// splitMarks unescapes, declines the line here) must be followed by
	// a comma or the line end. A line end or a bad byte before it
	// declines the line.
quoted:
	BSFL DX, AX
	ADDQ R12, AX
	CMPQ AX, R11
	JNE  fail                   // a bare quote
	LEAQ 1(AX), R12

closing:
	LEAQ      32(R12), AX
	CMPQ      AX, R8
	JGT       fail
	VMOVDQU   (SI)(R12*1), Y0
	VPCMPEQB  Y11, Y0, Y1
	VPCMPEQB  Y12, Y0, Y2
	VPOR      Y1, Y2, Y2
	VPCMPEQB  Y13, Y0, Y3
	VPOR      Y3, Y2, Y2
	VPOR      Y0, Y2, Y2
	VPMOVMSKB Y2, AX            // quotes, line ends, NULs, bytes >= 0x80
	TESTL     AX, AX
	JNZ       closed
	ADDQ      $32, R12
	JMP       closing

closed:
	BSFL    AX, AX
	ADDQ    R12, AX             // the closing quote, if it is one
	CMPB    (SI)(AX*1), $0x22
	JNE     fail
	LEAQ    1(AX), CX
	CMPQ    CX, R8
	JGE     fail
	MOVBLZX (SI)(CX*1), BX      // the byte after it
	CMPB    BX, $0x2c
	JEQ     quotedComma
	MOVQ    CX, R13
	CMPB    BX, $0x0a
	JEQ     quotedLast
	CMPB    BX, $0x0d
	JNE     fail                // text after the closing quote
	LEAQ    2(AX), R13
	CMPQ    R13, R8
	JGE     fail
	CMPB    (SI)(R13*1), $0x0a
	JNE     fail

quotedLast:
	CMPQ R10, R9
	JG   fail
	INCQ R11
	MOVL R11, (DI)(R10*8)       // span{after the opening quote, closing quote}
	MOVL AX, 4(DI)(R10*8)
	INCQ R10
	JMP  taken

quotedComma:
	CMPQ R10, R9
	JGE  fail
	INCQ R11
	MOVL R11, (DI)(R10*8)
	MOVL AX, 4(DI)(R10*8)
	INCQ R10
	LEAQ 2(AX), R11
	MOVQ R11, R12
	JMP  chunk

	// The line is taken. splitMemo.remember: plainEnd (R8) is
	// min(end, the first quote, memoBytes); p (R9) is the least of it,
	// the line before's plain and the first comma that moved.
taken:
	MOVQ   m+48(FP), BX
	MOVQ   R13, R8
	MOVQ   plainEnd-32(SP), AX
	CMPQ   R8, AX
	CMOVQGT AX, R8
	MOVQ   commas0-8(SP), SI
	MOVQ   commas1-16(SP), DI
	MOVQ   splitMemo_commas+0(BX), AX
	XORQ   SI, AX
	TZCNTQ AX, AX               // 64 when none moved
	MOVQ   splitMemo_commas+8(BX), DX
	XORQ   DI, DX
	TZCNTQ DX, DX
	ADDQ   $64, DX
	CMPQ   AX, $64
	CMOVQEQ DX, AX
	MOVQ   R8, R9
	CMPQ   AX, R9
	CMOVQLT AX, R9
	MOVQ   splitMemo_plain(BX), AX
	CMPQ   AX, R9
	CMOVQLT AX, R9

	// AX, DX: the bits below p, 0 to 63 and 64 to 127.
	CMPQ R9, $64
	JGE  pHigh
	MOVQ R9, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	XORQ DX, DX
	JMP  sameFields

pHigh:
	MOVQ $-1, AX
	MOVQ $-1, DX
	LEAQ -64(R9), CX
	CMPQ CX, $64
	JGE  sameFields
	MOVQ $1, DX
	SHLQ CX, DX
	DECQ DX

sameFields:
	ANDQ    SI, AX
	ANDQ    DI, DX
	POPCNTQ AX, AX
	POPCNTQ DX, DX
	ADDQ    DX, AX
	MOVL    AX, splitMemo_sameFields(BX)

	// differ: the pairs below (p+1)/2 that are not the line before's.
	LEAQ 1(R9), CX
	SHRQ $1, CX
	MOVQ $-1, AX
	CMPQ CX, $64
	JGE  differ
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX

differ:
	MOVQ    equalPairs-24(SP), DX
	NOTQ    DX
	ANDQ    DX, AX
	MOVQ    AX, splitMemo_differ(BX)
	MOVQ    R8, splitMemo_plain(BX)
	MOVQ    SI, splitMemo_commas+0(BX)
	MOVQ    DI, splitMemo_commas+8(BX)
	VMOVDQU Y4, splitMemo_prev+0(BX)
	VMOVDQU Y5, splitMemo_prev+32(BX)
	VMOVDQU Y6, splitMemo_prev+64(BX)
	VMOVDQU Y7, splitMemo_prev+96(BX)
	VZEROUPPER
	MOVQ    R13, end+56(FP)
	MOVQ    R10, nf+64(FP)
	MOVB    $1, ok+72(FP)
	RET

fail:
	VZEROUPPER

short:
	RET
