#include "scmoe/profiler/formats/load.h"

#include <simdjson.h>
#include <zlib.h>

#include <map>
#include <new>

#include "scmoe/profiler/formats/atomic_file.h"
#include "scmoe/profiler/huge_pages.h"
#include "scmoe/profiler/formats/chrome_json_export.h"
#include "scmoe/profiler/formats/chrome_json_import.h"
#include "scmoe/profiler/formats/csv.h"
#include "scmoe/profiler/formats/native.h"

namespace scmoe::prof::formats {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Inflates a gzip file (several members allowed, as `cat a.gz b.gz` makes). Returns "" or an error with
// the byte offset in the compressed file.
std::string gunzip(const std::string& in, const std::string& source, std::string& out,
                   const std::function<bool(double)>& progress, bool& cancelled) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return source + ": zlib initialisation failed";
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), 1u << 30));
  out.clear();
  std::string error;
  try {
    // Size the output once: a gzip member ends with its uncompressed size mod 2^32 (ISIZE). Growing by
    // doubling instead zero-filled and faulted in about three times the output, which cost more than the
    // inflate itself. ISIZE is only a hint (several members, or over 4 GiB): below the input size it is
    // ignored, and a short guess still grows.
    std::size_t expected = in.size() * 4;
    if (in.size() >= 18) {
      std::uint32_t isize = 0;
      for (int i = 0; i < 4; ++i) isize |= std::uint32_t{static_cast<unsigned char>(in[in.size() - 4 + i])} << (8 * i);
      if (isize >= in.size()) expected = isize;
    }
    out.reserve(std::max<std::size_t>(expected, 1 << 16) + simdjson::SIMDJSON_PADDING);
    advise_huge_pages(out.data(), out.capacity());
    out.resize(std::max<std::size_t>(expected, 1 << 16));
    std::size_t produced = 0;
    std::size_t steps = 0;
    while (true) {
      if (produced == out.size()) {
        out.reserve(out.size() * 2 + simdjson::SIMDJSON_PADDING);
        advise_huge_pages(out.data(), out.capacity());
        out.resize(out.size() * 2);
      }
      z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - produced, 1u << 30));
      const uInt before = z.avail_out;
      const int ret = inflate(&z, Z_NO_FLUSH);
      produced += before - z.avail_out;
      const auto offset = static_cast<std::size_t>(reinterpret_cast<const char*>(z.next_in) - in.data());
      if (ret == Z_STREAM_END) {
        if (offset >= in.size()) break;
        if (inflateReset(&z) != Z_OK) {
          error = source + ": byte " + std::to_string(offset) + ": expected another gzip member";
          break;
        }
        continue;
      }
      if (ret != Z_OK && ret != Z_BUF_ERROR) {
        error = source + ": byte " + std::to_string(offset) + ": expected valid gzip data (" +
                (z.msg ? z.msg : "zlib error " + std::to_string(ret)) + ")";
        break;
      }
      if (z.avail_in == 0) {
        if (offset >= in.size()) {
          error = source + ": byte " + std::to_string(in.size()) + ": expected the rest of the gzip stream (truncated)";
          break;
        }
        // Inputs over 1 GiB are fed in pieces: avail_in is 32-bit.
        z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - offset, 1u << 30));
      }
      if (progress && ++steps % 64 == 0 && !progress(static_cast<double>(offset) / static_cast<double>(in.size()))) {
        cancelled = true;
        break;
      }
    }
    out.resize(produced);
    out.reserve(produced + simdjson::SIMDJSON_PADDING);
  } catch (const std::bad_alloc&) {
    error = source + ": not enough memory to decompress";
  }
  inflateEnd(&z);
  return error;
}

struct LoadedFile {
  Trace trace;
  std::optional<std::int32_t> declared_rank;  // JSON only; native files carry their ranks
  bool native = false;
};

// Loads one file. progress gets this file's fraction 0..1.
std::string load_one(const std::string& path, const ClassificationRules& rules,
                     const std::function<bool(double)>& progress, LoadedFile& file, bool& cancelled) {
  std::string bytes;
  if (std::string err = read_file(path, bytes, simdjson::SIMDJSON_PADDING); !err.empty()) return err;
  if (bytes.size() >= kNativeMagic.size() && std::string_view(bytes).substr(0, kNativeMagic.size()) == kNativeMagic) {
    file.native = true;
    return decode_native(bytes, path, file.trace);
  }
  double parse_share = 1.0;
  if (is_gzip(bytes)) {
    std::string json;
    auto gz_progress = [&](double f) { return !progress || progress(f * 0.3); };
    if (std::string err = gunzip(bytes, path, json, gz_progress, cancelled); !err.empty() || cancelled) {
      return cancelled ? path + ": cancelled" : err;
    }
    bytes.swap(json);
    parse_share = 0.7;
  }
  const double size = static_cast<double>(std::max<std::size_t>(bytes.size(), 1));
  const double base = 1.0 - parse_share;
  auto parse_progress = [&](std::size_t done) {
    return !progress || progress(base + parse_share * static_cast<double>(done) / size);
  };
  ChromeJsonImport imported = import_chrome_json(bytes, path, rules, file.trace, parse_progress);
  if (imported.cancelled) cancelled = true;
  file.declared_rank = imported.declared_rank;
  return imported.error;
}

void set_rank(Trace& trace, std::int32_t rank) {
  for (Track& t : trace.tracks) t.info.rank = rank;
  for (RankInfo& r : trace.ranks) r.rank = rank;
}

}  // namespace

void append_trace(Trace& dst, Trace&& src) {
  std::vector<std::uint32_t> string_map(src.strings.size());
  for (std::uint32_t i = 0; i < src.strings.size(); ++i) string_map[i] = dst.strings.intern(src.strings.view(i));
  const auto arg_base = static_cast<std::uint32_t>(dst.args.size());
  dst.args.append(std::move(src.args), string_map);
  const auto track_base = static_cast<std::uint32_t>(dst.tracks.size());
  for (Track& t : src.tracks) {
    for (Span& s : t.spans) {
      s.name = string_map[s.name];
      if (s.args != kNoArgs) s.args += arg_base;
    }
    dst.tracks.push_back(std::move(t));
  }
  for (Flow f : src.flows) {
    f.from.track += track_base;
    f.to.track += track_base;
    dst.flows.push_back(f);
  }
  for (RankInfo& r : src.ranks) dst.ranks.push_back(std::move(r));
  for (auto& kv : src.metadata) dst.metadata.push_back(std::move(kv));
  dst.dropped_records += src.dropped_records;
}

LoadResult load_traces(const std::vector<std::string>& paths, const LoadOptions& options) {
  LoadResult result;
  if (paths.empty()) {
    result.error = "no trace files given";
    return result;
  }
  Trace merged;
  std::map<std::int32_t, std::string> rank_owner;  // rank -> file that brought it
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    auto file_progress = [&](double f) {
      return !options.progress || options.progress((static_cast<double>(i) + f) / static_cast<double>(paths.size()));
    };
    if (!file_progress(0.0)) {
      result.cancelled = true;
      result.error = "cancelled";
      return result;
    }
    LoadedFile file;
    bool cancelled = false;
    std::string err;
    try {
      err = load_one(path, options.rules, file_progress, file, cancelled);
    } catch (const std::bad_alloc&) {
      err = path + ": not enough memory";
    }
    if (cancelled) {
      result.cancelled = true;
      result.error = "cancelled";
      return result;
    }
    if (!err.empty()) {
      result.error = err;
      return result;
    }
    if (!file.native && paths.size() > 1) set_rank(file.trace, file.declared_rank.value_or(static_cast<std::int32_t>(i)));
    if (paths.size() > 1) {
      std::map<std::int32_t, bool> ranks_here;
      for (const RankInfo& r : file.trace.ranks) ranks_here[r.rank] = true;
      for (const Track& t : file.trace.tracks) ranks_here[t.info.rank] = true;
      for (const auto& [rank, unused] : ranks_here) {
        auto [it, inserted] = rank_owner.try_emplace(rank, path);
        if (!inserted) {
          result.error = path + ": rank " + std::to_string(rank) + " is already loaded from " + it->second +
                         " (give each rank's file once)";
          return result;
        }
      }
    }
    if (paths.size() == 1) {
      merged = std::move(file.trace);
    } else {
      append_trace(merged, std::move(file.trace));
    }
  }
  if (options.progress) options.progress(1.0);
  result.trace = std::move(merged);
  return result;
}

std::string output_format_error(const std::string& path) {
  for (const char* ext : {".scmoe", ".json", ".json.gz", ".csv"}) {
    if (ends_with(path, ext)) return "";
  }
  return path + ": unknown output format (use .scmoe, .json, .json.gz or .csv)";
}

std::string save_trace(const Trace& trace, const std::string& path) {
  if (ends_with(path, ".scmoe")) return save_native(trace, path);
  if (ends_with(path, ".json")) return export_chrome_json(trace, path, false);
  if (ends_with(path, ".json.gz")) return export_chrome_json(trace, path, true);
  if (ends_with(path, ".csv")) return export_spans_csv(trace, path);
  return output_format_error(path);
}

}  // namespace scmoe::prof::formats
