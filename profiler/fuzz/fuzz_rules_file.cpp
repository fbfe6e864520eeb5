// libFuzzer target: classification rules documents (what `--rules FILE` and the studio's rule editor
// load). Any input must load or give an error, never a crash, hang or sanitizer report; an error leaves
// the rules as they were; a document that loads writes back (to_json) to one that loads to the same
// rules; and the loaded rules classify any name (the input itself, of any length) without trouble.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scmoe/profiler/classify.h"

using namespace scmoe::prof;

namespace {

bool same(const ClassificationRules& a, const ClassificationRules& b) {
  if (a.rules().size() != b.rules().size() || a.annotation_rules().size() != b.annotation_rules().size() ||
      !(a.policy() == b.policy())) {
    return false;
  }
  for (std::size_t i = 0; i < a.rules().size(); ++i) {
    const auto& x = a.rules()[i];
    const auto& y = b.rules()[i];
    if (x.name_regex != y.name_regex || x.arg_key != y.arg_key || x.arg_value_regex != y.arg_value_regex ||
        x.scope != y.scope || x.category != y.category || x.family != y.family) {
      return false;
    }
  }
  for (std::size_t i = 0; i < a.annotation_rules().size(); ++i) {
    const auto& x = a.annotation_rules()[i];
    const auto& y = b.annotation_rules()[i];
    if (x.name_regex != y.name_regex || x.phase != y.phase || x.pass != y.pass || x.layer != y.layer ||
        x.family != y.family) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ClassificationRules rules;
  const ClassificationRules before = rules;
  if (const std::string err = rules.from_json(text); !err.empty()) {
    if (!same(rules, before)) std::abort();  // an error changes nothing
    return 0;
  }
  ClassificationRules again;
  if (!again.from_json(rules.to_json()).empty() || !same(again, rules)) std::abort();
  StringTable strings;
  const Arg arg{strings.intern("Collective name"), text};
  (void)rules.classify(text, {&arg, 1}, strings, true);
  (void)rules.classify(text, {}, strings, false);
  (void)rules.annotation(text);
  return 0;
}
