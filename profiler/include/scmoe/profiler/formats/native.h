// ScMoE Studio's own trace file (.scmoe): everything in a Trace, fast to load.
//
// Layout (little-endian):
//   header, 32 bytes: magic "SCMOETRC" (the MIME type in packaging/ matches it at offset 0), u32 version,
//                     u32 flags (0), u64 payload size (uncompressed), u64 compressed size (rest of the file)
//   The payload is a sequence of tagged sections:
//     "STRS" string table   "RANK" ranks   "META" metadata   "DROP" dropped records
//     "ARGS" arg lists      "TRKS" tracks   "FLOW" flows     "END " end
//   and the spans of each track as columns (start deltas, durations, names, args, layers, iterations, op
//   instances, categories, flags, depths: 40 bytes a span).
//   Version 2 (written now): u64 meta payload size, u64 meta compressed size, then one zstd frame with the
//     sections (TRKS gives each track's span count; a "BLKS" section before FLOW gives the spans per block
//     and each block's compressed size), then the span blocks: every track's spans cut into blocks of up
//     to 8192, each block its own zstd frame of columns whose start deltas begin at 0. Blocks decode
//     independently, in parallel and straight into the tracks' span vectors; the payload size counts the
//     meta payload and 40 bytes per span.
//   Version 1 (still read): one zstd frame holding the whole payload, each track's columns inline in TRKS.
// Columns with delta-coded starts compress several times better than packed structs and decode with one
// sequential pass. The reader checks every length, index and enum and reports the byte offset of the
// first bad field: "byte N" in the file (header, zstd frames), "payload byte N" in the uncompressed
// payload (the meta payload first, then the blocks in file order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

inline constexpr std::string_view kNativeMagic = "SCMOETRC";
inline constexpr std::uint32_t kNativeVersion = 2;   // written
inline constexpr std::uint32_t kNativeVersion1 = 1;  // still read
inline constexpr std::size_t kNativeHeaderSize = 32;

// The uncompressed version 1 payload (tests build version 1 files from it).
std::string encode_native_payload(const Trace& trace);
// A version 1 file: header + the payload as one zstd frame.
std::string encode_native_v1(const Trace& trace, int zstd_level = 1);
// A version 2 file (what save_native writes); its header's payload size counts the uncompressed bytes.
std::string encode_native(const Trace& trace, int zstd_level = 1);
// Saves atomically. Returns "" or an error.
std::string save_native(const Trace& trace, const std::string& path);

// Decodes a whole file's bytes into `out` (which should be empty). `source` names the file in errors.
// Returns "" or "<source>: byte N: expected ..." (N in the file for header errors, "payload byte N" for
// errors inside the decompressed payload).
std::string decode_native(std::string_view file, const std::string& source, Trace& out);

}  // namespace scmoe::prof::formats
