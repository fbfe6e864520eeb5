#include "scmoe/profiler/formats/chrome_json_import.h"

#include <simdjson.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scmoe/profiler/formats/chrome_json_schema.h"
#include "scmoe/profiler/formats/timestamp.h"

namespace scmoe::prof::formats {

namespace od = simdjson::ondemand;

namespace {

constexpr std::size_t kProgressEvery = 1 << 16;  // events between progress callbacks

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_json_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Most keys and string values have no escapes: their text is then taken straight from the input, without
// simdjson unescaping a copy into its string buffer (a call into the library per string). Escaped ones
// still go through simdjson.

// A member's key: its raw text ends at the closing quote before the ':' that precedes the value.
simdjson::error_code key_text(od::field& field, std::string_view& key) {
  const char* begin = field.key().raw();
  const char* p = field.value().raw_json_token().data();
  while (p > begin && is_json_space(p[-1])) --p;
  if (p > begin && p[-1] == ':') {
    --p;
    while (p > begin && is_json_space(p[-1])) --p;
    if (p > begin && p[-1] == '"') {
      const auto size = static_cast<std::size_t>(p - 1 - begin);
      if (std::memchr(begin, '\\', size) == nullptr) {
        key = std::string_view(begin, size);
        return simdjson::SUCCESS;
      }
    }
  }
  return field.unescaped_key().get(key);
}

// A string value (left unconsumed on the fast path: the object iteration skips it).
simdjson::error_code string_text(od::value& value, std::string_view& text) {
  std::string_view token = value.raw_json_token();
  if (!token.empty() && token.front() == '"') {
    while (token.size() > 1 && is_json_space(token.back())) token.remove_suffix(1);
    if (token.size() >= 2 && token.back() == '"' && std::memchr(token.data() + 1, '\\', token.size() - 2) == nullptr) {
      text = token.substr(1, token.size() - 2);
      return simdjson::SUCCESS;
    }
  }
  return value.get_string().get(text);
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Which kind of track an event goes to.
enum class Lane : std::uint8_t { GpuWork, GpuAnnotation, HostWork, HostAnnotation };

// One (pid, tid, lane) of the file, before it becomes a Trace track.
struct RawTrack {
  std::string pid;  // key text: '#' + a number's digits, or '"' + a string
  std::string tid;
  Lane lane = Lane::HostWork;
  std::int64_t device = 0;
  std::int64_t stream = 0;
  std::vector<Span> spans;
};

struct FlowPoint {
  std::string thread;  // pid key + '\x1f' + tid key
  std::int64_t ts = 0;
  bool enclosing = true;  // bp "e": bind to the slice enclosing ts; otherwise to the next slice
  bool valid = false;
};

struct FlowEnds {
  FlowPoint from, to;
  FlowKind kind = FlowKind::Other;
};

// A flow's identity: (cat, id). Views into the input, or into the Importer's kept_ copies of escaped
// texts (simdjson's string buffer is reused by the next piece): no string is built per flow event.
struct FlowKey {
  std::string_view cat, id;
  bool operator==(const FlowKey&) const = default;
};
struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    const std::size_t h = std::hash<std::string_view>{}(k.id);
    return h ^ (std::hash<std::string_view>{}(k.cat) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

// One arg of the event being read; views point into the input or simdjson's string buffer (valid until
// the next piece is parsed: record_event copies the latter).
struct PendingArg {
  std::string_view key;
  std::string_view value;
  bool is_string = false;
};

// The event being read: views into the input (or an Importer's kept_ storage).
struct Event {
  std::string_view ph, name, cat, pid, tid, id, bp;
  bool has_ts = false, has_dur = false, has_id = false, pid_is_string = false, tid_is_string = false;
  std::int64_t ts = 0, dur = 0;
};

// A middle piece of the event array read into records by one Importer, for another to handle in order.
struct EventRecord {
  Event ev;
  std::uint32_t first_arg = 0, arg_count = 0;  // into Piece::args
};
struct Piece {
  std::vector<EventRecord> events;
  std::vector<PendingArg> args;
  std::size_t end = 0;  // file offset where the piece ends
  bool ok = false;
};

// What one thread keeps between imports: the parsers and the piece buffers, so that a second import
// finds their memory already faulted in.
struct ImportScratch {
  static constexpr std::size_t kSlots = 3;  // pieces in flight between the reader and the handler
  std::unique_ptr<od::parser> parser, reader_parser;
  std::array<Piece, kSlots> slots;
};

class Importer {
 public:
  Importer(std::string& json, const std::string& source, const ClassificationRules& rules, Trace& out,
           const std::function<bool(std::size_t)>& progress, od::parser& parser, ImportScratch* scratch = nullptr)
      : json_(json), source_(source), rules_(rules), trace_(out), classifier_(rules, out.strings),
        progress_(progress), parser_(parser), scratch_(scratch) {}

  // chunk_bytes > 0: parse the traceEvents array in pieces of about that size (parse_in_pieces). When the
  // pieces do not parse, `retry_whole` is set and the caller starts over with a fresh Importer and
  // chunk_bytes = 0: every error is reported by the whole-document parse.
  ChromeJsonImport run(std::size_t chunk_bytes, bool& retry_whole);

 private:
  bool fail(std::string what) {
    if (expected_.empty()) expected_ = std::move(what);
    return false;
  }
  bool fail(simdjson::error_code code, std::string what) {
    code_ = code;
    return fail(std::move(what));
  }
  std::size_t offset_now();
  // Where the root may be: the whole document, a piece that ends in a synthetic "]}" / "]", or a middle
  // piece of events between a synthetic "[" and "]".
  enum class Root : std::uint8_t { Document, Events };
  bool parse_document(const char* begin, std::size_t size, std::size_t capacity, Root root);
  bool parse_in_pieces(std::size_t begin, std::size_t chunk_bytes);
  bool handle_middle_pieces(std::size_t& start, std::size_t chunk_bytes);
  bool read_piece(std::size_t start, std::size_t cut, Piece& into);
  void record_event();
  // Views that outlive the event being read (flow keys, the intern cache) must point into the input (or
  // the copied last piece): simdjson's string buffer is reused by the next piece.
  bool in_input(std::string_view s) const;
  std::string_view keep(std::string_view s);
  std::string structural_error(simdjson::error_code err, std::size_t skipped_prefix) const;
  bool fail_root(simdjson::error_code err) {
    if (err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
      // simdjson checks that the document ends with the bracket that closes the root: either the file
      // was cut short, or something follows the root value.
      error_offset_ = json_.size();
      return fail("the document to end with the bracket that closes the root (truncated file, or text after it?)");
    }
    return fail(err, "a JSON object or array");
  }

  bool parse_root_object(od::object root);
  bool parse_events(od::array events);
  bool parse_event(od::object event);
  bool parse_args(od::value value);
  bool read_key_text(od::value value, std::string_view field, std::string_view& text, bool& is_string);
  bool read_time(od::value value, std::string_view field, std::int64_t& ns);
  bool read_scmoe_header(od::value value);
  bool read_distributed_info(od::value value);

  bool handle_event();
  std::uint32_t raw_track_for(Lane lane, std::int64_t device, std::int64_t stream);
  std::string thread_key() const;
  void handle_metadata_event();
  bool make_span(Span& span, bool gpu);
  std::uint32_t intern_args();
  std::uint32_t intern_cached(std::string_view s);
  bool assemble();
  void resolve_flows(const std::vector<std::uint32_t>& final_of_raw);

  std::string& json_;
  const std::string& source_;
  const ClassificationRules& rules_;
  Trace& trace_;
  Classifier classifier_;
  const std::function<bool(std::size_t)>& progress_;

  od::parser& parser_;
  ImportScratch* scratch_;
  Piece* record_into_ = nullptr;  // set: parse_event records events there instead of handling them
  od::document doc_;
  const char* base_ = nullptr;    // offsets are (location - base_) + base_offset_: base_ is the text
  std::size_t base_offset_ = 0;   // being parsed, base_offset_ where it sits in the file
  simdjson::error_code structural_ = simdjson::SUCCESS;  // simdjson's first pass failed with this
  std::size_t events_end_ = 0;    // offset just after the last traceEvents array read
  std::string last_piece_;        // the copied last piece (views into it live until the import ends)
  std::deque<std::string> kept_;  // escaped texts that outlive their piece
  std::size_t pieces_ = 1;
  std::string expected_;
  static constexpr std::size_t kNoOffset = ~std::size_t{0};
  std::size_t error_offset_ = kNoOffset;  // where the bad value starts, when known better than "now"
  simdjson::error_code code_ = simdjson::SUCCESS;
  bool cancelled_ = false;

  // The event being handled, and its args (args_ while parsing, or a piece's records).
  Event ev_;
  std::vector<PendingArg> args_;
  std::span<const PendingArg> event_args_;

  // File-level state.
  bool scmoe_file_ = false;  // ScMoE Studio's own export: cat is the category, span fields are in args
  std::optional<std::int32_t> rank_;
  std::int64_t base_time_ns_ = 0;
  std::size_t events_seen_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t unmatched_ = 0;
  std::string key_;  // scratch for map keys
  std::vector<RawTrack> raw_;
  std::unordered_map<std::string, std::uint32_t> raw_index_;
  // The tracks of the last few events: files mostly alternate between a handful of threads and streams,
  // so most events find theirs here without hashing.
  std::array<std::pair<std::string, std::uint32_t>, 4> recent_tracks_;
  std::size_t recent_next_ = 0;
  std::vector<std::vector<Span>> open_;  // per raw track: ph "B" spans waiting for their "E"
  std::unordered_map<std::string, std::string> process_names_, thread_names_, scmoe_tracks_;
  std::unordered_map<std::string, std::int64_t> process_sort_, thread_sort_;
  std::unordered_map<FlowKey, std::uint32_t, FlowKeyHash> flow_index_;  // -> flows_, in order of appearance
  std::vector<FlowEnds> flows_;
  // Names and arg keys repeat from event to event: a small direct-mapped cache of interned ids, keyed
  // by length and end bytes and checked by content (views into the input), skips the string table's hash.
  struct Interned {
    std::string_view text;
    std::uint32_t id = 0;
  };
  std::array<Interned, 256> intern_cache_{};
};

std::uint32_t Importer::intern_cached(std::string_view s) {
  if (s.empty() || !in_input(s)) return trace_.strings.intern(s);
  const std::size_t n = s.size();
  const std::size_t slot =
      (n * 131 + static_cast<unsigned char>(s[0]) * 7 + static_cast<unsigned char>(s[n - 1]) +
       static_cast<unsigned char>(s[n / 2]) * 31) & (intern_cache_.size() - 1);
  Interned& e = intern_cache_[slot];
  if (e.text.size() == n && std::memcmp(e.text.data(), s.data(), n) == 0) return e.id;
  e.text = s;
  e.id = trace_.strings.intern(s);
  return e.id;
}

std::size_t Importer::offset_now() {
  const char* loc = nullptr;
  if (doc_.current_location().get(loc) != simdjson::SUCCESS || loc == nullptr || loc < base_) return json_.size();
  return static_cast<std::size_t>(loc - base_) + base_offset_;
}

bool Importer::in_input(std::string_view s) const {
  const auto inside = [&](const std::string& buffer) {
    return s.data() >= buffer.data() && s.data() + s.size() <= buffer.data() + buffer.size();
  };
  return inside(json_) || (!last_piece_.empty() && inside(last_piece_));
}

std::string_view Importer::keep(std::string_view s) { return in_input(s) ? s : std::string_view(kept_.emplace_back(s)); }

// Errors of simdjson's first pass (string and UTF-8 structure) come without a position: find it.
std::string Importer::structural_error(simdjson::error_code err, std::size_t skipped_prefix) const {
  if (err == simdjson::UNCLOSED_STRING) {
    return "byte " + std::to_string(json_.size()) + ": expected a closing quote (the file ends inside a string)";
  }
  if (err == simdjson::UTF8_ERROR) {
    // Bisect with simdjson's validator for the first bad byte (UTF-8 errors are local: a prefix that ends
    // before the bad sequence validates, give or take the 3 bytes of a split character).
    std::size_t good = skipped_prefix, bad = json_.size();
    while (bad - good > 4) {
      const std::size_t mid = good + (bad - good) / 2;
      if (simdjson::validate_utf8(json_.data() + skipped_prefix, mid - skipped_prefix)) {
        good = mid;
      } else {
        bad = mid;
      }
    }
    return "byte " + std::to_string(good) + ": expected valid UTF-8 text";
  }
  if (err == simdjson::CAPACITY) return "byte 0: expected a document smaller than 4 GiB (simdjson's limit)";
  return std::string("byte 0: expected a JSON document (") + simdjson::error_message(err) + ")";
}

ChromeJsonImport Importer::run(std::size_t chunk_bytes, bool& retry_whole) {
  ChromeJsonImport result;
  std::size_t skipped_prefix = 0;
  if (json_.size() >= 3 && json_.compare(0, 3, "\xEF\xBB\xBF") == 0) skipped_prefix = 3;  // UTF-8 BOM
  if (json_.find_first_not_of(" \t\r\n", skipped_prefix) == std::string::npos) {
    result.error = source_ + ": byte 0: empty file, expected a JSON object or array of trace events";
    return result;
  }
  if (json_.capacity() < json_.size() + simdjson::SIMDJSON_PADDING) {
    json_.reserve(json_.size() + simdjson::SIMDJSON_PADDING);
  }
  // Kineto files hold about one arg list per 300-500 bytes: reserving for one per 256 saves the copies
  // (and page faults) of growing the table's list index; pages reserved but not used are never touched.
  trace_.args.reserve_lists(json_.size() / 256);
  bool ok = false;
  if (chunk_bytes > 0) {
    ok = parse_in_pieces(skipped_prefix, chunk_bytes);
    if (!ok && !cancelled_) {
      retry_whole = true;
      return result;
    }
  } else {
    ok = parse_document(json_.data() + skipped_prefix, json_.size() - skipped_prefix,
                        json_.capacity() - skipped_prefix, Root::Document);
  }
  if (cancelled_) {
    result.cancelled = true;
    result.error = source_ + ": cancelled";
    return result;
  }
  if (structural_ != simdjson::SUCCESS) {
    result.error = source_ + ": " + structural_error(structural_, skipped_prefix);
    return result;
  }
  if (!ok) {
    const std::size_t offset = error_offset_ != kNoOffset ? error_offset_ : offset_now();
    std::string msg = source_ + ": byte " + std::to_string(offset) + ": expected " + expected_;
    if (code_ != simdjson::SUCCESS) msg += std::string(" (") + simdjson::error_message(code_) + ")";
    result.error = std::move(msg);
    return result;
  }
  if (!assemble()) {
    result.error = source_ + ": " + expected_;
    return result;
  }
  result.declared_rank = rank_;
  result.pieces = pieces_;
  return result;
}

// Parses one text as a JSON document: the whole file, or a piece of it made into a document by brackets
// around it. Offsets in errors and progress are the file's (base_offset_).
bool Importer::parse_document(const char* begin, std::size_t size, std::size_t capacity, Root root) {
  base_ = begin;
  if (auto err = parser_.iterate(simdjson::padded_string_view(begin, size, capacity)).get(doc_)) {
    structural_ = err;
    return false;
  }
  bool ok = false;
  od::json_type type;
  if (auto err = doc_.type().get(type)) {
    ok = fail(err, "a JSON object or array");
  } else if (type == od::json_type::object && root == Root::Document) {
    od::object object;
    const auto err = doc_.get_object().get(object);
    ok = err == simdjson::SUCCESS ? parse_root_object(object) : fail_root(err);
  } else if (type == od::json_type::array) {
    od::array events;
    const auto err = doc_.get_array().get(events);
    ok = err == simdjson::SUCCESS ? parse_events(events) : fail_root(err);
  } else {
    ok = fail("a JSON object with \"traceEvents\" or an array of trace events");
  }
  // Anything after the root value is an error (current_location fails only at the end of the input).
  const char* rest = nullptr;
  if (ok && !cancelled_ && doc_.current_location().get(rest) == simdjson::SUCCESS) ok = fail("the end of the document");
  return ok;
}

// Where the next piece of the event array may end: just after a '}' followed, across whitespace, by ','
// and '{', the gap between two events. Only a guess: the '}' may be inside a string or close an object
// nested in an event. A piece cut there does not parse (its strings or brackets do not close): a middle
// piece is then tried at the next guess, a first piece makes the import start over on the whole document.
std::size_t next_cut(std::string_view doc, std::size_t from) {
  while (from < doc.size()) {
    const void* hit = std::memchr(doc.data() + from, '}', doc.size() - from);
    if (hit == nullptr) break;
    const std::size_t cut = static_cast<std::size_t>(static_cast<const char*>(hit) - doc.data()) + 1;
    std::size_t i = cut;
    while (i < doc.size() && is_json_space(doc[i])) ++i;
    if (i < doc.size() && doc[i] == ',') {
      ++i;
      while (i < doc.size() && is_json_space(doc[i])) ++i;
      if (i < doc.size() && doc[i] == '{') return cut;
    }
    from = cut;
  }
  return std::string_view::npos;
}

// Writes a bracket or two over the input's separators for as long as it lives, then puts the original
// bytes back, also when the parse in between throws (bad_alloc): the whole-document parse that follows a
// failure must see the file as it was.
class BytesOver {
 public:
  BytesOver(char* at, std::string_view text) : at_(at), size_(std::min(text.size(), sizeof saved_)) {
    std::memcpy(saved_, at_, size_);
    std::memcpy(at_, text.data(), size_);
  }
  ~BytesOver() { std::memcpy(at_, saved_, size_); }
  BytesOver(const BytesOver&) = delete;
  BytesOver& operator=(const BytesOver&) = delete;

 private:
  char* at_;
  std::size_t size_;
  char saved_[2];
};

// The traceEvents array in pieces of about chunk_bytes, each parsed as a document of its own by one small
// parser: simdjson's buffers (a structural index of 4 bytes per token, a string buffer) then stay a few
// MB that are reused, where a whole-document parse needs fresh memory of several times the file, whose
// page faults cost more than the parse on a first import. The pieces are made documents in place by
// writing brackets over the separators around them (restored after), so views into the input stay valid:
//  - first piece: the file's start to a cut, closed by "]}" (root object: the cut must fall inside
//    traceEvents, checked below) or "]" (root array);
//  - middle pieces: "[" + events + "]";
//  - last piece: the rest of the file after "[" (root array), or copied after "{\"traceEvents\":[" so that
//    the members after the array are read as the root object's.
bool Importer::parse_in_pieces(std::size_t begin, std::size_t chunk_bytes) {
  const std::string_view doc(json_.data(), json_.size());
  const std::size_t root_at = doc.find_first_not_of(" \t\r\n", begin);
  const bool object_root = doc[root_at] == '{';
  if (!object_root && doc[root_at] != '[') return false;
  std::size_t cut = next_cut(doc, begin + chunk_bytes);
  if (cut == std::string_view::npos) {  // a small file: one piece
    return parse_document(json_.data() + begin, json_.size() - begin, json_.capacity() - begin, Root::Document);
  }
  bool ok = false;
  {
    const std::string_view close = object_root ? "]}" : "]";
    const BytesOver patch(json_.data() + cut, close);
    base_offset_ = begin;
    ok = parse_document(json_.data() + begin, cut + close.size() - begin, json_.capacity() - begin, Root::Document);
  }
  // The synthetic ']' must have closed traceEvents (not an array after it).
  if (!ok || cancelled_ || (object_root && events_end_ != cut + 1)) return false;
  std::size_t start = doc.find('{', cut);  // the next event: cut is followed by [ws] ',' [ws] '{'
  pieces_ = 2;  // the first and the last
  if (!handle_middle_pieces(start, chunk_bytes) || cancelled_) return false;
  if (!object_root) {
    const BytesOver patch(json_.data() + start - 1, "[");
    base_offset_ = start - 1;
    return parse_document(json_.data() + start - 1, json_.size() - (start - 1), json_.capacity() - (start - 1),
                          Root::Events);
  }
  static constexpr std::string_view kReopen = "{\"traceEvents\":[";
  last_piece_.reserve(kReopen.size() + json_.size() - start + simdjson::SIMDJSON_PADDING);
  last_piece_.assign(kReopen).append(doc.substr(start));
  base_offset_ = start - kReopen.size();
  return parse_document(last_piece_.data(), last_piece_.size(), last_piece_.capacity(), Root::Document);
}

// A middle piece made a document in place ('[' over the separator before its first event, ']' over the
// one after its last) and read into records.
bool Importer::read_piece(std::size_t start, std::size_t cut, Piece& into) {
  into.events.clear();
  into.args.clear();
  into.end = cut;
  record_into_ = &into;
  base_offset_ = start - 1;
  const BytesOver open(json_.data() + start - 1, "[");
  const BytesOver close(json_.data() + cut, "]");
  const bool ok = parse_document(json_.data() + start - 1, cut + 1 - (start - 1), json_.capacity() - (start - 1),
                                 Root::Events);
  record_into_ = nullptr;
  return ok;
}

// The middle pieces: a reader (a second Importer with its own parser, on a second thread when the
// machine has another core) parses each into records while this Importer handles the records of the
// piece before, in file order, so names, tracks, B/E pairs and flows come out exactly as in one pass.
// Only the reader writes brackets into the input, one piece at a time; the handler's views never cover
// a separator. On return `start` is where the last piece begins.
bool Importer::handle_middle_pieces(std::size_t& start, std::size_t chunk_bytes) {
  const std::string_view doc(json_.data(), json_.size());
  if (!scratch_->reader_parser) scratch_->reader_parser = std::make_unique<od::parser>();
  Trace unused;
  const std::function<bool(std::size_t)> no_progress;
  Importer reader(json_, source_, rules_, unused, no_progress, *scratch_->reader_parser);
  auto& slots = scratch_->slots;

  std::mutex mutex;
  std::condition_variable changed;
  std::size_t produced = 0, consumed = 0;
  bool reader_done = false, stop = false;
  std::size_t last_start = start;
  // Reads the next piece into the next slot; false when the guessed cuts have run out.
  std::size_t next = start;
  // A piece that does not parse was cut at a wrong guess (or the file is malformed): nothing of it has
  // been handled yet, so the next few guesses are tried before the import starts over as a whole.
  constexpr int kGuessesPerPiece = 4;
  auto read_next = [&]() -> bool {  // false: no more pieces
    std::size_t cut = next_cut(doc, next + chunk_bytes);
    Piece& piece = slots[produced % slots.size()];
    for (int guess = 1;; ++guess) {
      if (cut == std::string_view::npos) {
        last_start = next;
        return false;
      }
      piece.ok = reader.read_piece(next, cut, piece);
      if (piece.ok || guess == kGuessesPerPiece) break;
      cut = next_cut(doc, cut);
    }
    next = piece.ok ? doc.find('{', cut) : next;
    return true;
  };
  auto handle = [&](const Piece& piece) {
    for (const EventRecord& r : piece.events) {
      ev_ = r.ev;
      event_args_ = std::span<const PendingArg>(piece.args.data() + r.first_arg, r.arg_count);
      if (!handle_event()) return false;
    }
    ++pieces_;
    events_seen_ += piece.events.size();
    if (progress_ && !progress_(piece.end)) cancelled_ = true;
    return true;
  };

  bool ok = true;
  std::thread worker;
  // SCMOE_IMPORT_THREADS=1 reads on this thread only (as on a one-core machine): for tests and profiling.
  const char* threads = std::getenv("SCMOE_IMPORT_THREADS");
  const bool one_thread = threads != nullptr && std::string_view(threads) == "1";
  if (std::thread::hardware_concurrency() >= 2 && !one_thread) {
    try {
      worker = std::thread([&] {
        while (true) {
          {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return stop || produced - consumed < slots.size(); });
            if (stop) break;
          }
          bool more = true;
          try {
            more = read_next();
          } catch (...) {  // out of memory: a failed piece; the whole-document parse reports it
            slots[produced % slots.size()].ok = false;
          }
          std::lock_guard lock(mutex);
          if (more) ++produced;
          const bool failed = more && !slots[(produced - 1) % slots.size()].ok;
          if (!more || failed) reader_done = true;
          changed.notify_all();
          if (reader_done) break;
        }
      });
    } catch (const std::system_error&) {  // no thread to be had: read on this one
    }
  }
  if (!worker.joinable()) {
    while (ok && !cancelled_ && read_next()) {
      const Piece& piece = slots[produced++ % slots.size()];
      ok = piece.ok && handle(piece);
    }
  } else {
    // The reader is stopped and joined on every way out, exceptions included.
    auto stop_and_join = [&] {
      {
        std::lock_guard lock(mutex);
        stop = true;
      }
      changed.notify_all();
      worker.join();
    };
    struct OnExit {
      decltype(stop_and_join)& run;
      ~OnExit() { run(); }
    } on_exit{stop_and_join};
    for (std::size_t k = 0;; ++k) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return produced > k || reader_done; });
        if (produced <= k) break;
      }
      const Piece& piece = slots[k % slots.size()];
      ok = piece.ok && handle(piece);
      std::lock_guard lock(mutex);
      ++consumed;
      changed.notify_all();
      if (!ok || cancelled_) break;
    }
  }
  start = last_start;
  return ok;
}

bool Importer::parse_root_object(od::object root) {
  bool saw_events = false;
  for (auto field_result : root) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return fail(err, "an object member");
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return fail(err, "a member name");
    od::value value = field.value();
    if (key == "traceEvents") {
      od::array events;
      if (auto err = value.get_array().get(events)) return fail(err, "\"traceEvents\" to be an array");
      if (!parse_events(events)) return false;
      events_end_ = offset_now();
      saw_events = true;
    } else if (key == kScmoeHeaderKey) {
      if (!read_scmoe_header(value)) return false;
    } else if (key == "distributedInfo") {
      if (!read_distributed_info(value)) return false;
    } else if (key == "baseTimeNanoseconds") {
      std::string_view text;
      text = value.raw_json_token();
      const auto v = to_int(trim(text));
      if (!v) return fail("an integer for baseTimeNanoseconds");
      base_time_ns_ = *v;
      trace_.metadata.emplace_back("baseTimeNanoseconds", std::string(trim(text)));
    } else if (!scmoe_file_) {  // our own exports carry their metadata in the header
      od::json_type type;
      if (auto err = value.type().get(type)) return fail(err, "a JSON value");
      if (type == od::json_type::string) {
        std::string_view s;
        if (auto err = value.get_string().get(s)) return fail(err, "a string");
        trace_.metadata.emplace_back(std::string(key), std::string(s));
      } else if (type == od::json_type::object || type == od::json_type::array) {
        std::string_view raw;
        if (auto err = simdjson::to_json_string(value).get(raw)) return fail(err, "a JSON value");
        if (key == "deviceProperties") trace_.metadata.emplace_back(std::string(key), std::string(raw));
      } else {
        std::string_view raw;
        raw = value.raw_json_token();
        trace_.metadata.emplace_back(std::string(key), std::string(trim(raw)));
      }
    }
    if (cancelled_) return true;
  }
  if (!saw_events) return fail("a \"traceEvents\" array in the top-level object");
  return true;
}

bool Importer::read_distributed_info(od::value value) {
  od::object info;
  if (auto err = value.get_object().get(info)) return fail(err, "distributedInfo to be an object");
  for (auto field_result : info) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return fail(err, "an object member");
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return fail(err, "a member name");
    od::value v = field.value();
    od::json_type type;
    if (auto err = v.type().get(type)) return fail(err, "a JSON value");
    std::string text;
    if (type == od::json_type::string) {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return fail(err, "a string");
      text = s;
    } else if (type == od::json_type::object || type == od::json_type::array) {
      std::string_view raw;
      if (auto err = simdjson::to_json_string(v).get(raw)) return fail(err, "a JSON value");
      text = raw;
    } else {
      std::string_view raw;
      raw = v.raw_json_token();
      text = trim(raw);
    }
    if (key == "rank") {
      const auto r = to_int(text);
      if (!r || *r < 0 || *r > std::numeric_limits<std::int32_t>::max()) {
        return fail("distributedInfo.rank to be a non-negative integer, got " + text);
      }
      rank_ = static_cast<std::int32_t>(*r);
    }
    trace_.metadata.emplace_back("distributedInfo." + std::string(key), std::move(text));
  }
  return true;
}

bool Importer::read_scmoe_header(od::value value) {
  std::string_view raw;
  if (auto err = simdjson::to_json_string(value).get(raw)) return fail(err, "the scmoe header object");
  const auto header = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return fail("the scmoe header to be an object");
  const auto version = header.find("version");
  if (version == header.end() || !version->is_number_integer() || version->get<std::int64_t>() != 1) {
    return fail("scmoe header version 1");
  }
  scmoe_file_ = true;
  if (auto d = header.find("dropped_records"); d != header.end() && d->is_number_unsigned()) {
    trace_.dropped_records = d->get<std::uint64_t>();
  }
  if (auto ranks = header.find("ranks"); ranks != header.end() && ranks->is_array()) {
    for (const auto& r : *ranks) {
      if (!r.is_object() || !r.value("rank", nlohmann::json()).is_number_integer() ||
          !r.value("label", nlohmann::json()).is_string()) {
        return fail("scmoe header ranks as {\"rank\": int, \"label\": string}");
      }
      trace_.ranks.push_back({r["rank"].get<std::int32_t>(), r["label"].get<std::string>()});
    }
  }
  if (auto meta = header.find("metadata"); meta != header.end() && meta->is_array()) {
    for (const auto& kv : *meta) {
      if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string()) {
        return fail("scmoe header metadata as [key, value] string pairs");
      }
      trace_.metadata.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
    }
  }
  return true;
}

bool Importer::parse_events(od::array events) {
  for (auto element : events) {
    od::object event;
    if (auto err = element.get_object().get(event)) return fail(err, "a trace event object");
    if (!parse_event(event)) return false;
    if (++events_seen_ % kProgressEvery == 0 && progress_ && !progress_(offset_now())) {
      cancelled_ = true;
      return true;
    }
  }
  return true;
}

bool Importer::read_key_text(od::value value, std::string_view field, std::string_view& text, bool& is_string) {
  od::json_type type;
  if (auto err = value.type().get(type)) return fail(err, "a value for \"" + std::string(field) + "\"");
  if (type == od::json_type::string) {
    is_string = true;
    if (auto err = string_text(value, text)) return fail(err, "a string for \"" + std::string(field) + "\"");
    return true;
  }
  if (type == od::json_type::number) {
    is_string = false;
    text = value.raw_json_token();
    text = trim(text);
    return true;
  }
  return fail("a number or string for \"" + std::string(field) + "\"");
}

bool Importer::read_time(od::value value, std::string_view field, std::int64_t& ns) {
  std::string_view text;
  bool is_string = false;
  const std::size_t value_offset = offset_now();
  if (!read_key_text(value, field, text, is_string)) return false;
  const auto parsed = parse_us_as_ns(text);
  if (!parsed) {
    error_offset_ = value_offset;
    return fail("\"" + std::string(field) + "\" to be a number of microseconds within +-9.2e15, got " +
                std::string(text.substr(0, 40)));
  }
  ns = *parsed;
  return true;
}

bool Importer::parse_args(od::value value) {
  od::object args;
  if (auto err = value.get_object().get(args)) return fail(err, "\"args\" to be an object");
  for (auto field_result : args) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return fail(err, "an args member");
    PendingArg arg;
    if (auto err = key_text(field, arg.key)) return fail(err, "an args member name");
    od::value& v = field.value();
    od::json_type type;
    if (auto err = v.type().get(type)) return fail(err, "an args value");
    switch (type) {
      case od::json_type::string:
        arg.is_string = true;
        if (auto err = string_text(v, arg.value)) return fail(err, "a string");
        break;
      case od::json_type::object:
      case od::json_type::array:
        if (auto err = simdjson::to_json_string(v).get(arg.value)) return fail(err, "a JSON value");
        break;
      default:
        arg.value = v.raw_json_token();
        arg.value = trim(arg.value);
        break;
    }
    args_.push_back(arg);
  }
  return true;
}

bool Importer::parse_event(od::object event) {
  ev_ = Event{};
  args_.clear();
  for (auto field_result : event) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return fail(err, "an event member");
    std::string_view key;
    if (auto err = key_text(field, key)) return fail(err, "an event member name");
    od::value& value = field.value();
    if (key.empty()) continue;
    switch (key[0]) {
      case 'p':
        if (key == "ph") {
          if (auto err = string_text(value, ev_.ph)) return fail(err, "\"ph\" to be a string");
        } else if (key == "pid") {
          if (!read_key_text(value, key, ev_.pid, ev_.pid_is_string)) return false;
        }
        break;
      case 't':
        if (key == "ts") {
          if (!read_time(value, key, ev_.ts)) return false;
          ev_.has_ts = true;
        } else if (key == "tid") {
          if (!read_key_text(value, key, ev_.tid, ev_.tid_is_string)) return false;
        }
        break;
      case 'd':
        if (key == "dur") {
          if (!read_time(value, key, ev_.dur)) return false;
          if (ev_.dur < 0) return fail("\"dur\" to be non-negative");
          ev_.has_dur = true;
        }
        break;
      case 'n':
        if (key == "name") {
          if (auto err = string_text(value, ev_.name)) return fail(err, "\"name\" to be a string");
        }
        break;
      case 'c':
        if (key == "cat") {
          if (auto err = string_text(value, ev_.cat)) return fail(err, "\"cat\" to be a string");
        }
        break;
      case 'a':
        if (key == "args" && !parse_args(value)) return false;
        break;
      case 'b':
        if (key == "bp") {
          if (auto err = string_text(value, ev_.bp)) return fail(err, "\"bp\" to be a string");
        }
        break;
      case 'i':
        if (key == "id") {
          bool is_string = false;
          if (!read_key_text(value, key, ev_.id, is_string)) return false;
          ev_.has_id = true;
        } else if (key == "id2") {
          if (auto err = simdjson::to_json_string(value).get(ev_.id)) return fail(err, "\"id2\"");
          ev_.has_id = true;
        }
        break;
      default:
        break;  // unknown members are ignored, as the format allows
    }
  }
  if (ev_.ph.size() != 1) return fail("\"ph\" (a one-letter event phase) in every event");
  if (record_into_ != nullptr) {
    record_event();
    return true;
  }
  event_args_ = args_;
  return handle_event();
}

// The views must outlive this piece: the parser's string buffer (unescaped texts) is reused by the next.
void Importer::record_event() {
  EventRecord& r = record_into_->events.emplace_back();
  r.ev = ev_;
  for (std::string_view* v : {&r.ev.ph, &r.ev.name, &r.ev.cat, &r.ev.pid, &r.ev.tid, &r.ev.id, &r.ev.bp}) *v = keep(*v);
  r.first_arg = static_cast<std::uint32_t>(record_into_->args.size());
  r.arg_count = static_cast<std::uint32_t>(args_.size());
  for (const PendingArg& a : args_) record_into_->args.push_back({keep(a.key), keep(a.value), a.is_string});
}

// Key: the lane, then thread_key()'s layout; built in place because this runs for every event.
std::uint32_t Importer::raw_track_for(Lane lane, std::int64_t device, std::int64_t stream) {
  key_.clear();
  key_.push_back(static_cast<char>('0' + static_cast<int>(lane)));
  key_.push_back(ev_.pid_is_string ? '"' : '#');
  key_.append(ev_.pid);
  key_.push_back('\x1f');
  key_.push_back(ev_.tid_is_string ? '"' : '#');
  key_.append(ev_.tid);
  for (const auto& [key, index] : recent_tracks_) {
    if (key == key_) return index;
  }
  std::pair<std::string, std::uint32_t>& recent = recent_tracks_[recent_next_++ % recent_tracks_.size()];
  recent.first = key_;
  if (auto it = raw_index_.find(key_); it != raw_index_.end()) return recent.second = it->second;
  const auto index = static_cast<std::uint32_t>(raw_.size());
  recent.second = index;
  RawTrack t;
  t.pid = key_.substr(1, 1 + ev_.pid.size());
  t.tid = std::string(ev_.tid_is_string ? "\"" : "#").append(ev_.tid);
  t.lane = lane;
  t.device = device;
  t.stream = stream;
  raw_.push_back(std::move(t));
  open_.emplace_back();
  raw_index_.emplace(key_, index);
  return index;
}

std::uint32_t Importer::intern_args() {
  bool any = false;
  for (const PendingArg& a : event_args_) {
    if (scmoe_file_ && is_span_field_arg(a.key)) continue;
    trace_.args.push(intern_cached(a.key), a.value);
    any = true;
  }
  return any ? trace_.args.close_list() : kNoArgs;
}

bool Importer::make_span(Span& span, bool gpu) {
  span.name = intern_cached(ev_.name);
  span.args = intern_args();
  if (scmoe_file_) {
    if (const auto c = category_from_name(ev_.cat)) span.category = *c;
    for (const PendingArg& a : event_args_) {
      if (!is_span_field_arg(a.key)) continue;
      if (!apply_span_field_arg(a.key, a.value, span)) {
        return fail("args \"" + std::string(a.key) + "\" to be " + std::string(span_field_arg_expectation(a.key)) +
                    ", got " + std::string(a.value.substr(0, 40)));
      }
    }
    return true;
  }
  if (ev_.cat == "gpu_memcpy" || ev_.cat == "Memcpy") {
    span.category = Category::Memcpy;
  } else if (ev_.cat == "gpu_memset" || ev_.cat == "Memset") {
    span.category = Category::Memset;
  } else {
    const std::span<const Arg> list = span.args == kNoArgs ? std::span<const Arg>() : trace_.args[span.args];
    span.category = classifier_.classify(span.name, list, gpu).value_or(Category::Other);
  }
  return true;
}

bool Importer::handle_event() {
  const char ph = ev_.ph[0];
  if (ph == 'M') {
    handle_metadata_event();
    return true;
  }
  const bool is_span = ph == 'X' || ph == 'B' || ph == 'E' || ph == 'i' || ph == 'I';
  const bool is_flow = ph == 's' || ph == 't' || ph == 'f';
  if (!is_span && !is_flow) {
    ++skipped_;
    return true;
  }
  if (!ev_.has_ts) return fail("\"ts\" in a \"" + std::string(ev_.ph) + "\" event");
  if (ev_.pid.empty() && !ev_.pid_is_string) ev_.pid = "0";  // chrome://tracing defaults them to 0 too
  if (ev_.tid.empty() && !ev_.tid_is_string) ev_.tid = "0";

  // GPU work is identified by Kineto's categories or by device/stream args.
  std::optional<std::int64_t> device, stream;
  for (const PendingArg& a : event_args_) {
    if (a.key == "device") device = to_int(a.value);
    if (a.key == "stream") stream = to_int(a.value);
  }
  const std::string_view cat = ev_.cat;
  const bool gpu_annotation = cat == "gpu_user_annotation";
  const bool gpu = gpu_annotation || cat == "kernel" || cat == "Kernel" || cat == "gpu_memcpy" ||
                   cat == "Memcpy" || cat == "gpu_memset" || cat == "Memset" || (device && stream);
  const bool annotation = gpu_annotation || cat == "user_annotation" || cat == "Trace" || ph == 'i' || ph == 'I';
  const Lane lane = gpu ? (annotation ? Lane::GpuAnnotation : Lane::GpuWork)
                        : (annotation ? Lane::HostAnnotation : Lane::HostWork);
  if (is_flow) {
    if (!ev_.has_id) return fail("\"id\" in a flow event");
    // Kineto writes a flow per kernel launch: size the index once instead of rehashing as it grows.
    if (flows_.empty()) flow_index_.reserve(std::min<std::size_t>(json_.size() / 1024, std::size_t{1} << 20));
    auto it = flow_index_.find(FlowKey{ev_.cat, ev_.id});
    if (it == flow_index_.end()) {
      // The key's views must outlive this piece of the input.
      it = flow_index_.emplace(FlowKey{keep(ev_.cat), keep(ev_.id)}, static_cast<std::uint32_t>(flows_.size())).first;
      flows_.emplace_back();
    }
    FlowEnds& ends = flows_[it->second];
    FlowPoint point{thread_key(), ev_.ts, ev_.bp == "e" || ph != 'f', true};
    if (ph == 's') {
      ends.from = point;
    } else if (ph == 'f') {
      ends.to = point;
    }
    if (cat == "ac2g" || cat == "async_cpu_to_gpu" || cat == kFlowCategoryLaunch) ends.kind = FlowKind::Launch;
    if (cat == kFlowCategoryMoePipeline) ends.kind = FlowKind::MoePipeline;
    return true;
  }
  if (gpu && !device) device = to_int(ev_.pid);
  if (gpu && !stream) stream = to_int(ev_.tid);
  const std::uint32_t raw = raw_track_for(lane, device.value_or(0), stream.value_or(0));
  if (ph == 'E') {
    if (open_[raw].empty()) {
      ++unmatched_;
      return true;
    }
    Span span = open_[raw].back();
    open_[raw].pop_back();
    span.end_ns = ev_.ts;
    if (span.end_ns < span.start_ns) return fail("an \"E\" event no earlier than its \"B\"");
    raw_[raw].spans.push_back(span);
    return true;
  }
  Span span;
  span.start_ns = span.end_ns = ev_.ts;
  if (ph == 'X') {
    if (!ev_.has_dur) return fail("\"dur\" in an \"X\" event");
    if (__builtin_add_overflow(span.start_ns, ev_.dur, &span.end_ns)) return fail("\"ts\" + \"dur\" within int64 ns");
  }
  if (!make_span(span, gpu)) return false;
  if (ph == 'B') {
    open_[raw].push_back(span);
  } else {
    raw_[raw].spans.push_back(span);
  }
  return true;
}

std::string Importer::thread_key() const {
  std::string key(1, ev_.pid_is_string ? '"' : '#');
  key.append(ev_.pid).push_back('\x1f');
  key.push_back(ev_.tid_is_string ? '"' : '#');
  key.append(ev_.tid);
  return key;
}

void Importer::handle_metadata_event() {
  key_ = thread_key();
  const std::string pid = key_.substr(0, key_.find('\x1f'));
  std::string_view name_arg, sort_arg, track_arg;
  for (const PendingArg& a : event_args_) {
    if (a.key == "name" && a.is_string) name_arg = a.value;
    if (a.key == "sort_index" && !a.is_string) sort_arg = a.value;
    if (a.key == kScmoeTrackArg) track_arg = a.value;
  }
  const std::string_view what = ev_.name;
  if (what == "process_name") {
    process_names_[pid] = name_arg;
  } else if (what == "thread_name") {
    thread_names_[key_] = name_arg;
    if (scmoe_file_ && !track_arg.empty()) scmoe_tracks_[key_] = track_arg;
  } else if (what == "process_sort_index") {
    if (const auto v = to_int(sort_arg)) process_sort_[pid] = *v;
  } else if (what == "thread_sort_index") {
    if (const auto v = to_int(sort_arg)) thread_sort_[key_] = *v;
  } else {
    ++skipped_;
  }
}

bool Importer::assemble() {
  const std::int32_t rank = rank_.value_or(0);
  // baseTimeNanoseconds (newer Kineto) may come after traceEvents: shift once everything is read.
  if (base_time_ns_ != 0) {
    for (RawTrack& t : raw_) {
      for (Span& s : t.spans) {
        if (__builtin_add_overflow(s.start_ns, base_time_ns_, &s.start_ns) ||
            __builtin_add_overflow(s.end_ns, base_time_ns_, &s.end_ns)) {
          expected_ = "baseTimeNanoseconds + ts within int64 ns (an event's time overflows)";
          return false;
        }
      }
    }
  }
  // Track order: process sort index, then thread sort index, then first appearance.
  std::vector<std::uint32_t> order(raw_.size());
  std::iota(order.begin(), order.end(), 0u);
  // Our own exports name each thread's track identity and its position in the trace.
  std::unordered_map<std::string, std::pair<TrackInfo, std::int64_t>> identities;
  for (const auto& [thread, json] : scmoe_tracks_) {
    TrackInfo info;
    std::int64_t index = 0;
    if (parse_scmoe_track(json, info, index)) identities.emplace(thread, std::make_pair(std::move(info), index));
  }
  auto identity_index = [&](const RawTrack& t) {
    const auto it = identities.find(t.pid + '\x1f' + t.tid);
    return it == identities.end() ? std::numeric_limits<std::int64_t>::max() : it->second.second;
  };
  constexpr std::int64_t kUnsorted = std::numeric_limits<std::int64_t>::max();
  auto sort_of = [](const auto& map, const std::string& key) {
    const auto it = map.find(key);
    return it == map.end() ? kUnsorted : it->second;
  };
  std::unordered_map<std::string, std::size_t> pid_first_seen;
  std::unordered_map<std::string, bool> host_pids;  // processes with host work (not GPUs, not labels)
  for (const RawTrack& t : raw_) {
    pid_first_seen.try_emplace(t.pid, pid_first_seen.size());
    if (t.lane == Lane::HostWork) host_pids[t.pid] = true;
  }
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const RawTrack& x = raw_[a];
    const RawTrack& y = raw_[b];
    const auto ix = identity_index(x), iy = identity_index(y);
    if (ix != iy) return ix < iy;
    const auto px = sort_of(process_sort_, x.pid), py = sort_of(process_sort_, y.pid);
    if (px != py) return px < py;
    if (x.pid != y.pid) return pid_first_seen[x.pid] < pid_first_seen[y.pid];
    const auto tx = sort_of(thread_sort_, x.pid + '\x1f' + x.tid), ty = sort_of(thread_sort_, y.pid + '\x1f' + y.tid);
    if (tx != ty) return tx < ty;
    return static_cast<int>(x.lane) < static_cast<int>(y.lane);
  });

  std::vector<std::uint32_t> final_of_raw(raw_.size());
  std::unordered_map<std::string, std::uint32_t> final_index;  // identity -> track
  for (std::uint32_t r : order) {
    RawTrack& raw = raw_[r];
    const std::string thread_key = raw.pid + '\x1f' + raw.tid;
    TrackInfo info;
    bool identified = false;
    if (const auto it = identities.find(thread_key); it != identities.end()) {
      info = it->second.first;
      identified = true;
    }
    if (!identified) {
      const auto name = thread_names_.find(thread_key);
      const bool gpu = raw.lane == Lane::GpuWork || raw.lane == Lane::GpuAnnotation;
      const bool annotation = raw.lane == Lane::GpuAnnotation || raw.lane == Lane::HostAnnotation;
      info.rank = rank;
      info.device_kind = gpu ? DeviceKind::Gpu : DeviceKind::Cpu;
      info.device = gpu ? static_cast<std::int32_t>(raw.device) : 0;
      info.kind = annotation ? TrackKind::Annotation : (gpu ? TrackKind::CudaStream : TrackKind::HostThread);
      const std::string tid_text = raw.tid.substr(1);
      if (gpu) {
        info.native_id = raw.stream;
        info.name = "stream " + std::to_string(raw.stream);
      } else {
        info.native_id = to_int(tid_text).value_or(0);
        info.name = name != thread_names_.end() && !name->second.empty() ? name->second
                    : tid_text.empty()                                  ? "global"
                                                                        : "thread " + tid_text;
        // A trace of several host processes: keep their threads apart.
        if (host_pids.size() > 1 && raw.lane == Lane::HostWork) {
          const auto pname = process_names_.find(raw.pid);
          info.name = (pname != process_names_.end() ? pname->second : "pid " + raw.pid.substr(1)) + " / " + info.name;
        }
      }
      if (annotation) info.name += " annotations";
    }
    key_ = std::to_string(info.rank) + '\x1f' + std::to_string(info.device) + '\x1f' +
           std::to_string(static_cast<int>(info.device_kind)) + '\x1f' + std::to_string(static_cast<int>(info.kind)) +
           '\x1f' + std::to_string(info.native_id) + '\x1f' + info.name;
    auto [it, inserted] = final_index.try_emplace(key_, static_cast<std::uint32_t>(trace_.tracks.size()));
    if (inserted) trace_.tracks.push_back(Track{std::move(info), {}});
    final_of_raw[r] = it->second;
  }
  // Spans of a raw track keep their order; the final sort is by (start, longer first) so that parents
  // come before the children that start with them.
  std::vector<std::vector<std::uint32_t>> raws_of_final(trace_.tracks.size());
  for (std::uint32_t r = 0; r < raw_.size(); ++r) raws_of_final[final_of_raw[r]].push_back(r);
  for (std::size_t f = 0; f < trace_.tracks.size(); ++f) {
    std::vector<Span>& spans = trace_.tracks[f].spans;
    if (raws_of_final[f].size() == 1) {
      spans = std::move(raw_[raws_of_final[f][0]].spans);  // the usual case: no copy into fresh memory
    } else {
      std::size_t total = 0;
      for (std::uint32_t r : raws_of_final[f]) total += raw_[r].spans.size();
      spans.reserve(total);
      for (std::uint32_t r : raws_of_final[f]) {
        spans.insert(spans.end(), raw_[r].spans.begin(), raw_[r].spans.end());
        std::vector<Span>().swap(raw_[r].spans);
      }
    }
    const auto before = [](const Span& a, const Span& b) {
      return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.end_ns > b.end_ns;
    };
    // Files are usually written in time order per thread: skip the sort (and its buffer) then.
    if (!std::is_sorted(spans.begin(), spans.end(), before)) std::stable_sort(spans.begin(), spans.end(), before);
    const TrackKind kind = trace_.tracks[f].info.kind;
    if (!scmoe_file_ && (kind == TrackKind::HostThread || kind == TrackKind::Annotation)) {
      // Nesting depth of host ops: how many earlier spans are still open.
      std::vector<std::int64_t> open_ends;
      for (Span& s : spans) {
        while (!open_ends.empty() && open_ends.back() <= s.start_ns) open_ends.pop_back();
        s.depth = static_cast<std::uint16_t>(std::min<std::size_t>(open_ends.size(), 0xFFFF));
        open_ends.push_back(s.end_ns);
      }
    }
  }
  resolve_flows(final_of_raw);
  if (!scmoe_file_) {
    apply_phase_annotations(trace_, rules_);
    trace_.ranks.push_back({rank, source_});
  }
  for (const auto& open : open_) unmatched_ += open.size();
  if (skipped_ > 0) trace_.metadata.emplace_back("skipped_events", std::to_string(skipped_));
  if (unmatched_ > 0) trace_.metadata.emplace_back("unmatched_begin_end_events", std::to_string(unmatched_));
  return true;
}

void Importer::resolve_flows(const std::vector<std::uint32_t>& final_of_raw) {
  // Returns the span a flow point binds to, or nullopt.
  auto bind_in = [&](const FlowPoint& p, std::uint32_t track) -> std::optional<SpanRef> {
    const std::vector<Span>& spans = trace_.tracks[track].spans;
    std::int64_t ts = 0;
    if (__builtin_add_overflow(p.ts, base_time_ns_, &ts)) return std::nullopt;
    auto it = std::upper_bound(spans.begin(), spans.end(), ts,
                               [](std::int64_t v, const Span& s) { return v < s.start_ns; });
    if (!p.enclosing) {
      // "next slice": the first one starting at or after ts.
      auto next = std::lower_bound(spans.begin(), spans.end(), ts,
                                   [](const Span& s, std::int64_t v) { return s.start_ns < v; });
      if (next == spans.end()) return std::nullopt;
      return SpanRef{track, static_cast<std::uint32_t>(next - spans.begin())};
    }
    // Enclosing slice: the latest-starting span that contains ts; among equal starts the shortest
    // (deepest), which the (start, longer first) order puts last. Nesting is shallow: bounded walk.
    int steps = 0;
    while (it != spans.begin() && steps++ < 256) {
      --it;
      if (it->end_ns >= ts) return SpanRef{track, static_cast<std::uint32_t>(it - spans.begin())};
    }
    return std::nullopt;
  };
  // A flow point names a thread, not a lane: try its work lanes first, then its annotations.
  auto bind = [&](const FlowPoint& p) -> std::optional<SpanRef> {
    for (const Lane lane : {Lane::GpuWork, Lane::HostWork, Lane::GpuAnnotation, Lane::HostAnnotation}) {
      key_.assign(1, static_cast<char>('0' + static_cast<int>(lane))).append(p.thread);
      const auto it = raw_index_.find(key_);
      if (it == raw_index_.end()) continue;
      if (auto ref = bind_in(p, final_of_raw[it->second])) return ref;
    }
    return std::nullopt;
  };
  for (const FlowEnds& ends : flows_) {
    if (!ends.from.valid || !ends.to.valid) continue;  // Kineto writes flow ends without a start
    const auto from = bind(ends.from);
    const auto to = bind(ends.to);
    if (from && to) trace_.flows.push_back({*from, *to, ends.kind});
  }
}

}  // namespace

ChromeJsonImport import_chrome_json(std::string& json, const std::string& source, const ClassificationRules& rules,
                                    Trace& out, const std::function<bool(std::size_t)>& progress,
                                    std::size_t chunk_bytes) {
  // Parsers and piece buffers are kept per thread between imports. In pieces the parsers stay a few MB; a
  // whole-document parse grows its parser to several times the document (a structural index of 4 bytes
  // per token, a string buffer): one grown past 256 MB is dropped, so an import of a few GB does not hold
  // its buffers for the life of the thread.
  constexpr std::size_t kKeepParserUpTo = std::size_t{256} << 20;
  thread_local std::unique_ptr<ImportScratch> kept;
  std::unique_ptr<ImportScratch> scratch = std::move(kept);  // a nested call would get its own
  if (!scratch) scratch = std::make_unique<ImportScratch>();
  if (!scratch->parser) scratch->parser = std::make_unique<od::parser>();
  ChromeJsonImport result;
  bool retry_whole = false;
  {
    Importer importer(json, source, rules, out, progress, *scratch->parser, scratch.get());
    result = importer.run(chunk_bytes, retry_whole);
  }
  if (retry_whole) {
    // The pieces did not parse: a malformed file (the whole-document parse names the error and its
    // offset) or a valid one cut at a wrong guess (it then imports as a whole).
    out = Trace();
    Importer importer(json, source, rules, out, progress, *scratch->parser, scratch.get());
    result = importer.run(0, retry_whole);
  }
  if (scratch->parser->capacity() > kKeepParserUpTo) scratch->parser.reset();
  kept = std::move(scratch);
  return result;
}

}  // namespace scmoe::prof::formats
