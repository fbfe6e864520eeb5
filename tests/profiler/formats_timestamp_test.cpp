#include "scmoe/profiler/formats/timestamp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace scmoe::prof::formats {
namespace {

TEST(ParseUsAsNs, ConvertsDecimalMicrosecondsExactly) {
  EXPECT_EQ(parse_us_as_ns("1234.567"), 1234567);
  EXPECT_EQ(parse_us_as_ns("0"), 0);
  EXPECT_EQ(parse_us_as_ns("68.0"), 68000);
  EXPECT_EQ(parse_us_as_ns("-2.5"), -2500);
  // An epoch timestamp whose double would be off by a nanosecond: 1661203463029566.123 us.
  EXPECT_EQ(parse_us_as_ns("1661203463029566.123"), 1661203463029566123LL);
  EXPECT_EQ(parse_us_as_ns("4458676983543.183"), 4458676983543183LL);
}

TEST(ParseUsAsNs, RoundsSubNanosecondDigitsHalfAwayFromZero) {
  EXPECT_EQ(parse_us_as_ns("0.0005"), 1);
  EXPECT_EQ(parse_us_as_ns("0.0004999"), 0);
  EXPECT_EQ(parse_us_as_ns("-0.0005"), -1);
  EXPECT_EQ(parse_us_as_ns("1.2345678901234567890123456789"), 1235);
}

TEST(ParseUsAsNs, HandlesExponents) {
  EXPECT_EQ(parse_us_as_ns("1e3"), 1000000);
  EXPECT_EQ(parse_us_as_ns("1.5E-3"), 2);
  EXPECT_EQ(parse_us_as_ns("2.5e+1"), 25000);
  EXPECT_EQ(parse_us_as_ns("0e999999"), 0);
  EXPECT_EQ(parse_us_as_ns("1e-99999"), 0);
}

TEST(ParseUsAsNs, RejectsNonNumbersAndOutOfRange) {
  EXPECT_FALSE(parse_us_as_ns(""));
  EXPECT_FALSE(parse_us_as_ns("-"));
  EXPECT_FALSE(parse_us_as_ns("abc"));
  EXPECT_FALSE(parse_us_as_ns("12x"));
  EXPECT_FALSE(parse_us_as_ns("1e"));
  EXPECT_FALSE(parse_us_as_ns("1e300"));
  EXPECT_EQ(parse_us_as_ns("9223372036854775.807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_FALSE(parse_us_as_ns("9223372036854775.808"));
  EXPECT_FALSE(parse_us_as_ns("99999999999999999999999999999999999999999999"));
}

TEST(AppendNsAsUs, WritesShortestExactDecimal) {
  auto text = [](std::int64_t ns) {
    std::string s;
    append_ns_as_us(s, ns);
    return s;
  };
  EXPECT_EQ(text(1234567), "1234.567");
  EXPECT_EQ(text(5000), "5");
  EXPECT_EQ(text(1050), "1.05");
  EXPECT_EQ(text(1500), "1.5");
  EXPECT_EQ(text(7), "0.007");
  EXPECT_EQ(text(-1), "-0.001");
  EXPECT_EQ(text(0), "0");
  EXPECT_EQ(text(std::numeric_limits<std::int64_t>::min()), "-9223372036854775.808");
}

TEST(AppendNsAsUs, RoundTripsThroughTheParser) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    const auto ns = static_cast<std::int64_t>(rng() >> (rng() % 63));
    const std::int64_t v = (i % 2) ? ns : -ns;
    std::string s;
    append_ns_as_us(s, v);
    ASSERT_EQ(parse_us_as_ns(s), v) << s;
  }
}

}  // namespace
}  // namespace scmoe::prof::formats
