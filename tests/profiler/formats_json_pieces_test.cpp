// The traceEvents array is parsed in pieces cut at guessed event boundaries (chrome_json_import.cpp,
// parse_in_pieces). Whatever the piece size, the trace and every error must be those of the
// whole-document parse: these tests import the same text both ways, at piece sizes that put the guessed
// cuts at every position of small documents, on documents built to fool the guess.
#include <gtest/gtest.h>

#include <string>

#include "formats_test_util.h"
#include "scmoe/profiler/formats/chrome_json_import.h"

namespace scmoe::prof {
namespace {

using testing::expect_same_trace;
using testing::fixture;
using testing::read_gzip;

struct Imported {
  Trace trace;
  formats::ChromeJsonImport result;
};

Imported import_text(const std::string& text, std::size_t chunk_bytes) {
  Imported out;
  std::string json = text;
  out.result = formats::import_chrome_json(json, "doc.json", ClassificationRules(), out.trace, {}, chunk_bytes);
  EXPECT_EQ(json, text) << "the import must give the input back as it was";
  return out;
}

// Every piece size from 1 byte to the document's size, and a few larger.
// Returns how many of the sizes were parsed in pieces (the others fell back to the whole document).
int expect_pieces_match_whole(const std::string& text) {
  const Imported whole = import_text(text, 0);
  EXPECT_EQ(whole.result.pieces, 1u);
  int in_pieces = 0;
  for (std::size_t chunk = 1; chunk <= text.size() + 2; ++chunk) {
    SCOPED_TRACE("chunk_bytes " + std::to_string(chunk));
    const Imported pieces = import_text(text, chunk);
    if (pieces.result.pieces > 1) ++in_pieces;
    EXPECT_EQ(pieces.result.error, whole.result.error);
    EXPECT_EQ(pieces.result.declared_rank, whole.result.declared_rank);
    if (whole.result.error.empty()) expect_same_trace(pieces.trace, whole.trace);
    if (::testing::Test::HasFailure()) break;  // one size's report is enough
  }
  return in_pieces;
}

TEST(JsonPieces, FixturesImportTheSameInPieces) {
  for (const char* name : {"nccl_parser_config__nccl_data.json.gz", "trace_filter__sampled_rank-0.json.gz",
                           "trace_diff__test__test.json.gz"}) {
    SCOPED_TRACE(name);
    const std::string text = read_gzip(fixture(name));
    ASSERT_GT(text.size(), 100000u);
    const Imported whole = import_text(text, 0);
    ASSERT_EQ(whole.result.error, "");
    ASSERT_GT(whole.trace.span_count(), 1000u);
    for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}, formats::kDefaultJsonChunkBytes}) {
      SCOPED_TRACE("chunk_bytes " + std::to_string(chunk));
      const Imported pieces = import_text(text, chunk);
      ASSERT_EQ(pieces.result.error, "");
      EXPECT_GE(pieces.result.pieces, std::min<std::size_t>(text.size() / chunk / 2, 4)) << "fell back to whole";
      expect_same_trace(pieces.trace, whole.trace);
    }
  }
}

// Members before and after traceEvents, escaped keys and flow ids (their unescaped text lives in the
// parser's buffer, which the next piece reuses), B/E pairs and flows across pieces, metadata events.
const char* kObjectRoot = R"({"schemaVersion": 1, "distributedInfo": {"rank": 3, "backend": "nccl"},
"traceEvents": [
  {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "main"}},
  {"ph": "B", "name": "outer", "pid": 1, "tid": 2, "ts": 10},
  {"ph": "X", "cat": "cpu_op", "name": "a\u0062c", "pid": 1, "tid": 2, "ts": 11, "dur": 5, "args": {"k\u0065y": "v\"}, {\"w"}},
  {"ph": "s", "cat": "ac2g", "name": "launch", "id": "fl\u006fw", "pid": 1, "tid": 2, "ts": 12},
  {"ph": "X", "cat": "kernel", "name": "k}, {", "pid": 0, "tid": 7, "ts": 20, "dur": 3, "args": {"device": 0, "stream": 7, "list": [{"a": 1}, {"b": 2}], "nest": {"x": {"y": [1, {"z": "}, {"}]}}}},
  {"ph": "f", "cat": "ac2g", "name": "launch", "id": "flow", "bp": "e", "pid": 0, "tid": 7, "ts": 20},
  {"ph": "E", "pid": 1, "tid": 2, "ts": 30},
  {"ph": "i", "name": "mark", "pid": 1, "tid": 2, "ts": 31, "s": "t"},
  {"ph": "C", "name": "counter", "pid": 1, "ts": 32, "args": {"v": 1}}
],
"deviceProperties": [{"id": 0}, {"id": 1}, {"id": 2}], "traceName": "t}, {x", "baseTimeNanoseconds": 1000})";

// Most sizes must really parse in pieces, or these tests would only check the fallback. A middle piece
// cut at a decoy is retried at the next guess; a first piece cut at one falls back to the whole document
// (the array-root document below parses in pieces at 70 of its 235 sizes, 7 without the retry).
TEST(JsonPieces, ObjectRootAtEveryCut) { EXPECT_GT(expect_pieces_match_whole(kObjectRoot), 450); }

TEST(JsonPieces, CompactObjectRootAtEveryCut) {
  // No whitespace: the separator between two pieces is a single ',' that both would write over.
  std::string compact;
  bool in_string = false;
  for (std::size_t i = 0; kObjectRoot[i] != '\0'; ++i) {
    const char c = kObjectRoot[i];
    if (c == '"' && (i == 0 || kObjectRoot[i - 1] != '\\')) in_string = !in_string;
    if (!in_string && (c == ' ' || c == '\n')) continue;
    compact.push_back(c);
  }
  EXPECT_GT(expect_pieces_match_whole(compact), 400);
}

TEST(JsonPieces, ArrayRootAtEveryCut) {
  EXPECT_GT(expect_pieces_match_whole(R"([{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 2},
{"ph": "X", "name": "b}, {", "pid": 1, "tid": 1, "ts": 2, "dur": 1, "args": {"o": [{}, {}]}},{"ph": "X", "name": "c", "pid": 1, "tid": 1, "ts": 4, "dur": 1}]
)"), 50);
}

TEST(JsonPieces, ErrorsAreTheWholeDocumentsAtEveryCut) {
  const std::string text = kObjectRoot;
  // Cut short in every piece, a bad value late in the array, text after the root, bad UTF-8 late.
  for (const std::size_t keep : {text.size() / 3, text.size() / 2, text.size() - 40, text.size() - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(keep));
    expect_pieces_match_whole(text.substr(0, keep));
  }
  std::string bad_ts = text;
  bad_ts.replace(bad_ts.find("\"ts\": 30"), 8, "\"ts\": \"x\"");
  expect_pieces_match_whole(bad_ts);
  expect_pieces_match_whole(text + " {}");
  std::string bad_utf8 = text;
  bad_utf8.replace(bad_utf8.find("mark"), 1, "\xC3\x28");
  expect_pieces_match_whole(bad_utf8);
}

TEST(JsonPieces, CancelStopsAPiecedImport) {
  std::string text = read_gzip(fixture("trace_diff__test__test.json.gz"));
  Trace trace;
  int calls = 0;
  const auto result = formats::import_chrome_json(
      text, "doc.json", ClassificationRules(), trace, [&](std::size_t) { return ++calls < 1; }, 65536);
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result.error, "doc.json: cancelled");
}

}  // namespace
}  // namespace scmoe::prof
