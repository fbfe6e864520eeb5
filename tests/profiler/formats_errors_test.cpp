// Bad input: every case gives one clear error with the file and byte offset, never a crash or a hang.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>

#include "formats_test_util.h"
#include "scmoe/profiler/formats/load.h"
#include "scmoe/profiler/formats/native.h"

namespace scmoe::prof {
namespace {

using testing::TempDir;

std::string load_error(const TempDir& dir, const std::string& content, const std::string& name = "t.json") {
  testing::write_text(dir.file(name), content);
  const formats::LoadResult r = formats::load_traces({dir.file(name)});
  EXPECT_FALSE(r.trace) << "expected an error for: " << content.substr(0, 200);
  EXPECT_EQ(r.error.rfind(dir.file(name), 0), 0u) << "the error names the file: " << r.error;
  return r.error;
}

TEST(JsonImportErrors, EmptyFile) {
  TempDir dir;
  EXPECT_NE(load_error(dir, "").find("byte 0: empty file"), std::string::npos);
  EXPECT_NE(load_error(dir, "  \n ").find("empty file"), std::string::npos);
}

TEST(JsonImportErrors, WrongTypeNamesFieldAndOffset) {
  TempDir dir;
  const std::string json = R"({"traceEvents":[{"ph":"X","name":"a","pid":1,"tid":1,"ts":"abc","dur":1}]})";
  const std::string err = load_error(dir, json);
  EXPECT_NE(err.find("byte " + std::to_string(json.find("\"abc\""))), std::string::npos) << err;
  EXPECT_NE(err.find("\"ts\""), std::string::npos) << err;

  const std::string json2 = R"({"traceEvents":[{"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":[1]}]})";
  EXPECT_NE(load_error(dir, json2).find("a number or string for \"dur\""), std::string::npos);
  EXPECT_NE(load_error(dir, R"({"traceEvents":{"ph":"X"}})").find("\"traceEvents\" to be an array"), std::string::npos);
  EXPECT_NE(load_error(dir, R"({"traceEvents":[{"ph":"X","name":7}]})").find("\"name\" to be a string"),
            std::string::npos);
  EXPECT_NE(load_error(dir, R"({"traceEvents":[{"name":"a"}]})").find("\"ph\""), std::string::npos);
  EXPECT_NE(load_error(dir, R"({"traceEvents":[{"ph":"X","ts":1,"pid":1,"tid":1,"name":"a"}]})").find("\"dur\" in an \"X\" event"),
            std::string::npos);
  EXPECT_NE(load_error(dir, R"({"distributedInfo":{"rank":-1},"traceEvents":[]})").find("distributedInfo.rank"),
            std::string::npos);
  EXPECT_NE(load_error(dir, "42").find("expected a JSON object with \"traceEvents\""), std::string::npos);
  EXPECT_NE(load_error(dir, R"({"other":1})").find("\"traceEvents\""), std::string::npos);
}

TEST(JsonImportErrors, HugeNumbers) {
  TempDir dir;
  EXPECT_NE(load_error(dir, R"([{"ph":"X","name":"a","pid":1,"tid":1,"ts":1e300,"dur":1}])").find("\"ts\""),
            std::string::npos);
  EXPECT_NE(load_error(dir, R"([{"ph":"X","name":"a","pid":1,"tid":1,"ts":9223372036854775,"dur":9}])").find("within int64"),
            std::string::npos);
  EXPECT_NE(load_error(dir, R"([{"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":-5}])").find("non-negative"),
            std::string::npos);
}

TEST(JsonImportErrors, TruncatedAtEveryByteNeverCrashes) {
  TempDir dir;
  const std::string json =
      R"({"distributedInfo":{"rank":2},"traceEvents":[{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":1.5,"dur":2,"args":{"device":0,"stream":7,"grid":[1,2,3]}},{"ph":"s","id":1,"pid":1,"tid":1,"ts":1,"cat":"ac2g"},{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"main"}}]})";
  for (std::size_t cut = 0; cut < json.size(); ++cut) {
    const std::string err = load_error(dir, json.substr(0, cut));
    EXPECT_NE(err.find(cut == 0 ? "empty" : "expected"), std::string::npos) << cut << ": " << err;
  }
  testing::write_text(dir.file("full.json"), json);
  EXPECT_TRUE(formats::load_traces({dir.file("full.json")}).trace);
}

TEST(JsonImportErrors, TrailingGarbageAndMalformedJson) {
  TempDir dir;
  EXPECT_NE(load_error(dir, R"({"traceEvents":[]} x)").find("byte 20: expected the document to end with the bracket"),
            std::string::npos);
  EXPECT_NE(load_error(dir, R"({"traceEvents":[]} {})").find("byte 19: expected the end of the document"),
            std::string::npos);
  EXPECT_NE(load_error(dir, R"({"traceEvents":[{"ph":"X",,}]})").find("byte"), std::string::npos);
  EXPECT_NE(load_error(dir, "{\"traceEvents\":[\"\xFF\xFE\"]}").find("byte 16: expected valid UTF-8"), std::string::npos);
  EXPECT_NE(load_error(dir, "{\"traceEvents\":[\"abc").find("byte 20: expected a closing quote"), std::string::npos);
  EXPECT_NE(load_error(dir, "{\"traceEvents\":[{\"ph\":\"X\"").find("byte 25: expected the document to end with the bracket"),
            std::string::npos);
}

TEST(JsonImportErrors, DeepNestingIsAnErrorNotAStackOverflow) {
  TempDir dir;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_NE(load_error(dir, deep).find("expected"), std::string::npos);
  const std::string in_args = R"({"traceEvents":[{"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":1,"args":{"x":)" +
                              std::string(5000, '[') + std::string(5000, ']') + "}}]}";
  testing::write_text(dir.file("args.json"), in_args);
  const formats::LoadResult r = formats::load_traces({dir.file("args.json")});
  EXPECT_TRUE(r.trace || !r.error.empty());
}

TEST(JsonImportErrors, UnknownFieldsAndPhasesAreIgnored) {
  TempDir dir;
  testing::write_text(dir.file("t.json"),
                      R"({"futureField":{"a":[1,2]},"traceEvents":[{"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":1,"colour":"red"},{"ph":"C","name":"counter","pid":1,"ts":1,"args":{"v":1}}]})");
  const formats::LoadResult r = formats::load_traces({dir.file("t.json")});
  ASSERT_TRUE(r.trace) << r.error;
  EXPECT_EQ(r.trace->span_count(), 1u);
}

TEST(JsonImportErrors, BrokenGzip) {
  TempDir dir;
  std::string gz = testing::read_text(testing::fixture("trace_filter__sampled_rank-0.json.gz"));
  const std::string err = load_error(dir, gz.substr(0, gz.size() / 2), "t.json.gz");
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  gz[gz.size() / 3] = static_cast<char>(gz[gz.size() / 3] ^ 0x55);
  EXPECT_NE(load_error(dir, gz, "t2.json.gz").find("byte"), std::string::npos);
  const formats::LoadResult missing = formats::load_traces({dir.file("missing.json")});
  EXPECT_NE(missing.error.find("cannot open"), std::string::npos);
}

// A version 1 native file built by hand around a payload, so each field can be broken on purpose.
std::string native_file(const std::string& payload, std::uint32_t version = formats::kNativeVersion1) {
  std::string compressed(ZSTD_compressBound(payload.size()), '\0');
  compressed.resize(ZSTD_compress(compressed.data(), compressed.size(), payload.data(), payload.size(), 1));
  std::string file(32, '\0');
  std::memcpy(file.data(), "SCMOETRC", 8);
  const std::uint64_t size = payload.size(), csize = compressed.size();
  std::memcpy(file.data() + 8, &version, 4);
  std::memcpy(file.data() + 16, &size, 8);
  std::memcpy(file.data() + 24, &csize, 8);
  return file + compressed;
}

TEST(NativeErrors, HeaderProblemsNameTheOffset) {
  TempDir dir;
  const Trace t = testing::make_sample_trace();
  const std::string good = formats::encode_native(t);
  EXPECT_NE(load_error(dir, good.substr(0, 20), "a.scmoe").find("byte 20: expected a 32-byte header"), std::string::npos);
  EXPECT_NE(load_error(dir, native_file(formats::encode_native_payload(t), 99), "b.scmoe").find("byte 8: expected format version 1 or 2, got 99"),
            std::string::npos);
  EXPECT_NE(load_error(dir, good.substr(0, good.size() - 7), "c.scmoe").find("byte 24: expected a compressed size"),
            std::string::npos);
  std::string flipped = good;
  flipped[good.size() - 10] = static_cast<char>(flipped[good.size() - 10] ^ 1);
  EXPECT_NE(load_error(dir, flipped, "d.scmoe").find("zstd"), std::string::npos);
}

TEST(NativeErrors, PayloadProblemsNameThePayloadOffset) {
  TempDir dir;
  const Trace t = testing::make_sample_trace();
  const std::string payload = formats::encode_native_payload(t);
  // Truncated payload (valid zstd around it).
  EXPECT_NE(load_error(dir, native_file(payload.substr(0, payload.size() / 2)), "a.scmoe").find("payload byte"),
            std::string::npos);
  // Trailing bytes after the END section.
  EXPECT_NE(load_error(dir, native_file(payload + "xx"), "b.scmoe").find("the end of the payload"), std::string::npos);
  // A wrong section tag at a known offset: the RANK section follows the string table.
  std::size_t strings_bytes = 4 + 8;
  for (std::uint32_t i = 0; i < t.strings.size(); ++i) strings_bytes += 4 + t.strings.view(i).size();
  std::string bad_tag = payload;
  bad_tag[strings_bytes] = 'X';
  EXPECT_NE(load_error(dir, native_file(bad_tag), "c.scmoe").find("payload byte " + std::to_string(strings_bytes) + ": expected section RANK"),
            std::string::npos);
  // A huge string count: rejected before anything is allocated for it.
  std::string huge = payload;
  const std::uint64_t count = 1ull << 60;
  std::memcpy(huge.data() + 4, &count, 8);
  EXPECT_NE(load_error(dir, native_file(huge), "d.scmoe").find("string count"), std::string::npos);
}

TEST(NativeErrors, SpanNameIndexOutOfRange) {
  TempDir dir;
  Trace t;
  const auto track = t.track_for({0, 0, DeviceKind::Cpu, TrackKind::HostThread, 1, "t"});
  Span s;
  s.name = t.strings.intern("only name");
  s.end_ns = 5;
  t.tracks[track].spans.push_back(s);
  std::string payload = formats::encode_native_payload(t);
  // The name column of the one span: after its start and duration columns, right before the END-ward
  // columns. Find it from the end: FLOW(4) + count(8) + END(4), depth 2, flags 1, category 1,
  // op instance 4, iteration 4, layer 4, args 4, name 4.
  const std::size_t name_at = payload.size() - 16 - 2 - 1 - 1 - 4 - 4 - 4 - 4 - 4;
  std::uint32_t name = 0;
  std::memcpy(&name, payload.data() + name_at, 4);
  ASSERT_EQ(name, 0u);
  name = 7;
  std::memcpy(payload.data() + name_at, &name, 4);
  const std::string err = load_error(dir, native_file(payload), "n.scmoe");
  EXPECT_NE(err.find("expected a name id below the string count (span 0 of track 0)"), std::string::npos) << err;
}

// Version 2 files: the fields around the span blocks, and bad spans in a later block.
std::uint64_t u64_at(const std::string& bytes, std::size_t offset) {
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 8);
  return v;
}

// One track of `spans` spans named "a"; span `bad` gets what `spoil` does to it.
Trace one_track(std::size_t spans, std::size_t bad, void (*spoil)(Span&)) {
  Trace t;
  const auto track = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 7, "stream 7"});
  const std::uint32_t name = t.strings.intern("a");
  for (std::size_t i = 0; i < spans; ++i) {
    Span s;
    s.start_ns = static_cast<std::int64_t>(i) * 10;
    s.end_ns = s.start_ns + 5;
    s.name = name;
    if (i == bad) spoil(s);
    t.tracks[track].spans.push_back(s);
  }
  return t;
}

TEST(NativeErrors, Version2SizesNameTheirOffsets) {
  TempDir dir;
  const std::string good = formats::encode_native(testing::make_sample_trace());
  std::uint32_t version = 0;
  std::memcpy(&version, good.data() + 8, 4);
  ASSERT_EQ(version, 2u);
  // The payload size in the header counts the meta payload (its size at byte 32) and 40 bytes a span.
  const std::uint64_t payload = u64_at(good, 16), meta = u64_at(good, 32);
  ASSERT_EQ(payload, meta + 40 * testing::make_sample_trace().span_count());
  std::string wrong_payload = good;
  const std::uint64_t more = payload + 40;
  std::memcpy(wrong_payload.data() + 16, &more, 8);
  EXPECT_NE(load_error(dir, wrong_payload, "a.scmoe").find("byte 16: expected a payload size of " + std::to_string(payload)),
            std::string::npos);
  std::string wrong_meta = good;
  const std::uint64_t huge = good.size();
  std::memcpy(wrong_meta.data() + 40, &huge, 8);
  EXPECT_NE(load_error(dir, wrong_meta, "b.scmoe").find("byte 40: expected a compressed meta size within the file"),
            std::string::npos);
  EXPECT_NE(load_error(dir, good.substr(0, 40), "c.scmoe").find("byte 24: expected a compressed size"), std::string::npos);
}

TEST(NativeErrors, Version2BadSpanInALaterBlockNamesItsPayloadOffset) {
  TempDir dir;
  // 20000 spans: blocks of 8192, so span 9000 is span 808 of the second block, whose columns start
  // 8192 * 40 bytes after the meta payload.
  const Trace bad_name = one_track(20000, 9000, [](Span& s) { s.name = 5; });
  const std::string file = formats::encode_native(bad_name);
  const std::string second_block = "payload byte " + std::to_string(u64_at(file, 32) + 8192 * 40);
  std::string err = load_error(dir, file, "n.scmoe");
  EXPECT_NE(err.find(second_block + ": expected a name id below the string count (span 9000 of track 0)"), std::string::npos)
      << err;
  const Trace negative = one_track(20000, 19999, [](Span& s) { s.end_ns = s.start_ns - 1; });
  const std::string file2 = formats::encode_native(negative);
  err = load_error(dir, file2, "d.scmoe");
  EXPECT_NE(err.find("payload byte " + std::to_string(u64_at(file2, 32) + 2 * 8192 * 40) +
                     ": expected a non-negative duration within int64 (span 19999 of track 0)"),
            std::string::npos)
      << err;
}

TEST(NativeErrors, Version2DamagedBlockNamesTheFile) {
  TempDir dir;
  std::string file = formats::encode_native(one_track(20000, 20000, [](Span&) {}));
  // The last block's frame ends with its checksum: flip a byte of it.
  file[file.size() - 2] = static_cast<char>(file[file.size() - 2] ^ 0x40);
  const std::string err = load_error(dir, file, "z.scmoe");
  EXPECT_NE(err.find("expected a valid zstd frame"), std::string::npos) << err;
  EXPECT_NE(err.find("(span block of track 0)"), std::string::npos) << err;
}

}  // namespace
}  // namespace scmoe::prof
