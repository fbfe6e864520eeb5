// Pieces shared by the classification sources (classify.cpp, classify_json.cpp, rule_presets.cpp): the
// compiled regex list and the embedded preset texts. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>
#include <re2/set.h>


namespace scmoe::prof::detail {

// Compiles `pattern` with the project's RE2 options into `out`; "" or why it failed.
std::string compile_regex(const std::string& pattern, std::unique_ptr<RE2>& out);

// Compiled regexes, plus one RE2::Set over all of them so that a text is scanned once for every regex.
class RegexList {
 public:
  explicit RegexList(std::vector<std::unique_ptr<RE2>> regexes);
  ~RegexList();
  RegexList(RegexList&&) noexcept = default;
  RegexList& operator=(RegexList&&) noexcept = default;

  // Indices of the regexes found in (the first kMaxMatchedBytes of) `text`, ascending.
  std::vector<std::uint32_t> matches(std::string_view text) const;
  // The first capture group of regex `index` in `text` as a non-negative decimal number, or -1.
  std::int32_t first_group_number(std::size_t index, std::string_view text) const;

 private:
  std::vector<std::unique_ptr<RE2>> regexes_;
  std::unique_ptr<RE2::Set> set_;  // null when the set does not compile: matching runs regex by regex
};

// The built-in presets (resources/rules/*.json), embedded at build time (embed_rule_presets.cmake).
struct PresetText {
  std::string_view name;
  std::string_view json;
};
extern const PresetText kRulePresets[];
extern const std::size_t kRulePresetCount;

}  // namespace scmoe::prof::detail
