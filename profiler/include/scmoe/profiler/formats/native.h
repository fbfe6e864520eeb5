// ScMoE Studio's own trace file (.scmoe): everything in a Trace, fast to load.
//
// Layout (little-endian):
//   header, 32 bytes: magic "SCMOETRC" (the MIME type in packaging/ matches it at offset 0), u32 version,
//                     u32 flags (0), u64 payload size (uncompressed), u64 compressed size
//   one zstd frame (with checksum) holding the payload, a sequence of tagged sections:
//     "STRS" string table   "RANK" ranks   "META" metadata   "DROP" dropped records
//     "ARGS" arg lists      "TRKS" tracks, each with its spans as columns (start deltas, durations, names,
//                           args, layers, iterations, op instances, categories, flags, depths)
//     "FLOW" flows          "END " end
// Columns with delta-coded starts compress several times better than packed structs and decode with one
// sequential pass per column. The reader checks every length, index and enum and reports the byte
// offset of the first bad field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

inline constexpr std::string_view kNativeMagic = "SCMOETRC";
inline constexpr std::uint32_t kNativeVersion = 1;
inline constexpr std::size_t kNativeHeaderSize = 32;

// The uncompressed payload (exposed so benchmarks can measure payload bytes).
std::string encode_native_payload(const Trace& trace);
// Header + compressed payload.
std::string encode_native(const Trace& trace, int zstd_level = 3);
// Saves atomically. Returns "" or an error.
std::string save_native(const Trace& trace, const std::string& path);

// Decodes a whole file's bytes into `out` (which should be empty). `source` names the file in errors.
// Returns "" or "<source>: byte N: expected ..." (N in the file for header errors, "payload byte N" for
// errors inside the decompressed payload).
std::string decode_native(std::string_view file, const std::string& source, Trace& out);

}  // namespace scmoe::prof::formats
