#include "scmoe/profiler/analysis/rule_coverage.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "scmoe/profiler/analysis/overlap.h"

namespace scmoe::prof::analysis {

namespace {

void add_unknown_work(const Trace& trace, RuleCoverage& out) {
  std::unordered_map<std::uint32_t, UnknownWork> by_name;
  for (const std::int32_t rank : ranks_of(trace)) {
    for (const std::uint32_t t : selected_tracks(trace, rank, TrackSelection::Auto)) {
      for (const Span& s : trace.tracks[t].spans) {
        if (s.category == Category::Memcpy || s.category == Category::Memset) continue;
        out.work_ns += s.duration_ns();
        if (s.category != Category::Other) continue;
        UnknownWork& w = by_name[s.name];
        ++w.count;
        w.total_ns += s.duration_ns();
        out.unknown_ns += s.duration_ns();
      }
    }
  }
  for (auto& [name, work] : by_name) {
    work.name = std::string(trace.strings.view(name));
    out.unknown.push_back(std::move(work));
  }
  std::sort(out.unknown.begin(), out.unknown.end(), [](const UnknownWork& a, const UnknownWork& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.name < b.name;
  });
}

// Kernel rules: a rule matched when its name regex, its scope and its arg condition all held for one span.
// Per (name, side) the rules still unmatched among those whose regex finds the name are kept; a span
// only looks at those, so the common case (every candidate already matched) costs a lookup.
std::vector<std::size_t> unmatched_kernel_rules(const Trace& trace, const ClassificationRules& rules) {
  std::vector<bool> matched(rules.rules().size(), false);
  std::size_t left = matched.size();
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> pending;  // (name id, on device) -> rules
  for (const Track& track : trace.tracks) {
    const bool on_device = track.info.device_kind == DeviceKind::Gpu;
    for (const Span& s : track.spans) {
      if (left == 0) break;
      auto [it, inserted] = pending.try_emplace((std::uint64_t{s.name} << 1) | (on_device ? 1u : 0u));
      if (inserted) it->second = rules.name_matches(trace.strings.view(s.name));
      std::vector<std::uint32_t>& candidates = it->second;
      if (candidates.empty()) continue;
      const std::span<const Arg> args = s.args == kNoArgs ? std::span<const Arg>() : trace.args[s.args];
      std::erase_if(candidates, [&](std::uint32_t i) {
        if (matched[i]) return true;
        if (!rules.rule_applies(i, args, trace.strings, on_device)) return false;
        matched[i] = true;
        --left;
        return true;
      });
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < matched.size(); ++i) {
    if (!matched[i]) out.push_back(i);
  }
  return out;
}

std::vector<std::size_t> unmatched_annotation_rules(const Trace& trace, const ClassificationRules& rules) {
  std::vector<bool> matched(rules.annotation_rules().size(), false);
  std::vector<bool> seen(trace.strings.size(), false);
  for (const Track& track : trace.tracks) {
    const bool annotates = track.info.kind == TrackKind::Annotation ||
                           (track.info.device_kind == DeviceKind::Cpu && track.info.kind == TrackKind::HostThread);
    if (!annotates) continue;
    for (const Span& s : track.spans) {
      if (seen[s.name]) continue;
      seen[s.name] = true;
      for (const std::uint32_t i : rules.annotation_matches(trace.strings.view(s.name))) matched[i] = true;
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < matched.size(); ++i) {
    if (!matched[i]) out.push_back(i);
  }
  return out;
}

}  // namespace

RuleCoverage rule_coverage(const Trace& trace, const ClassificationRules& rules) {
  RuleCoverage out;
  add_unknown_work(trace, out);
  out.unmatched_rules = unmatched_kernel_rules(trace, rules);
  out.unmatched_annotation_rules = unmatched_annotation_rules(trace, rules);
  return out;
}

}  // namespace scmoe::prof::analysis
