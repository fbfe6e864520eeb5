#include "scmoe/profiler/formats/timestamp.h"

#include <limits>

namespace scmoe::prof::formats {

namespace {
constexpr int kMaxSignificantDigits = 36;  // 10^36 < 2^127: the mantissa cannot overflow __int128
constexpr __int128 kInt64Max = std::numeric_limits<std::int64_t>::max();

bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

std::optional<std::int64_t> parse_us_as_ns(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  const bool negative = i < n && text[i] == '-';
  if (negative) ++i;
  __int128 mantissa = 0;
  int significant = 0;
  int exp10 = 3;  // microseconds -> nanoseconds
  int digits = 0;
  for (; i < n && is_digit(text[i]); ++i, ++digits) {
    if (significant < kMaxSignificantDigits) {
      mantissa = mantissa * 10 + (text[i] - '0');
      if (mantissa != 0) ++significant;
    } else {
      ++exp10;  // integer digit beyond what we keep: scales the value
    }
  }
  if (i < n && text[i] == '.') {
    ++i;
    for (; i < n && is_digit(text[i]); ++i, ++digits) {
      if (significant < kMaxSignificantDigits) {
        mantissa = mantissa * 10 + (text[i] - '0');
        if (mantissa != 0) ++significant;
        --exp10;
      }  // fraction digits beyond 36 significant ones are far below a nanosecond: dropped
    }
  }
  if (digits == 0) return std::nullopt;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    int exponent = 0;
    int exp_digits = 0;
    for (; i < n && is_digit(text[i]); ++i, ++exp_digits) {
      if (exponent < 100000) exponent = exponent * 10 + (text[i] - '0');
    }
    if (exp_digits == 0) return std::nullopt;
    exp10 += exp_negative ? -exponent : exponent;
  }
  if (i != n) return std::nullopt;
  if (mantissa == 0) return 0;
  if (exp10 >= 0) {
    for (int k = 0; k < exp10; ++k) {
      mantissa *= 10;
      if (mantissa > kInt64Max) return std::nullopt;
    }
    if (mantissa > kInt64Max) return std::nullopt;
  } else if (exp10 < -38) {
    mantissa = 0;
  } else {
    __int128 divisor = 1;
    for (int k = 0; k < -exp10; ++k) divisor *= 10;
    const __int128 remainder = mantissa % divisor;
    mantissa /= divisor;
    if (remainder * 2 >= divisor) ++mantissa;
    if (mantissa > kInt64Max) return std::nullopt;
  }
  const auto value = static_cast<std::int64_t>(mantissa);
  return negative ? -value : value;
}

void append_ns_as_us(std::string& out, std::int64_t ns) {
  // Work on the unsigned magnitude so INT64_MIN does not overflow on negation.
  std::uint64_t magnitude = ns < 0 ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  if (ns < 0) out.push_back('-');
  const std::uint64_t whole = magnitude / 1000;
  const auto frac = static_cast<unsigned>(magnitude % 1000);
  char buf[24];
  int len = 0;
  std::uint64_t w = whole;
  do {
    buf[len++] = static_cast<char>('0' + w % 10);
    w /= 10;
  } while (w != 0);
  while (len > 0) out.push_back(buf[--len]);
  if (frac != 0) {
    out.push_back('.');
    out.push_back(static_cast<char>('0' + frac / 100));
    if (frac % 100 != 0) {
      out.push_back(static_cast<char>('0' + frac / 10 % 10));
      if (frac % 10 != 0) out.push_back(static_cast<char>('0' + frac % 10));
    }
  }
}

}  // namespace scmoe::prof::formats
