#include "scmoe/engine/config.h"

#include <array>
#include <utility>

namespace scmoe::engine {

namespace {
constexpr std::array<std::pair<Arch, std::string_view>, 5> kArchNames = {{
    {Arch::Top2, "top2"}, {Arch::Top1, "top1"}, {Arch::Shared, "shared"}, {Arch::ScMoE, "scmoe"},
    {Arch::ScMoE2, "scmoe2"},
}};
constexpr std::array<std::pair<Schedule, std::string_view>, 3> kScheduleNames = {{
    {Schedule::Sequential, "sequential"}, {Schedule::Overlap, "overlap"}, {Schedule::Adaptive, "adaptive"},
}};
}  // namespace

int expert_slots(int shortcut_position) { return shortcut_position + 2; }

std::string_view to_string(Arch a) {
  for (const auto& [value, name] : kArchNames) {
    if (value == a) return name;
  }
  return "?";
}

std::string_view to_string(Schedule s) {
  for (const auto& [value, name] : kScheduleNames) {
    if (value == s) return name;
  }
  return "?";
}

std::optional<Arch> parse_arch(std::string_view s) {
  for (const auto& [value, name] : kArchNames) {
    if (name == s) return value;
  }
  return std::nullopt;
}

std::optional<Schedule> parse_schedule(std::string_view s) {
  for (const auto& [value, name] : kScheduleNames) {
    if (name == s) return value;
  }
  return std::nullopt;
}

}  // namespace scmoe::engine
