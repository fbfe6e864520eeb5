// Chrome trace JSON stores times in microseconds as decimal numbers ("ts": 1234.567); the trace model
// stores int64 nanoseconds. Converting through double would drift by a nanosecond on large epoch-based
// timestamps (2^53 ns is only 104 days), so both directions work on the decimal text exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scmoe::prof::formats {

// Parses a JSON number (optionally negative, with fraction and exponent) in microseconds into
// nanoseconds, rounding sub-nanosecond digits half away from zero. nullopt: not a number, or outside int64.
std::optional<std::int64_t> parse_us_as_ns(std::string_view text);

// Appends ns as microseconds with nanosecond precision: 1234567 -> "1234.567", 5000 -> "5", -1 -> "-0.001".
void append_ns_as_us(std::string& out, std::int64_t ns);

}  // namespace scmoe::prof::formats
