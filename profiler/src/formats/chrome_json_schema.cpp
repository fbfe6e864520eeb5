#include "scmoe/profiler/formats/chrome_json_schema.h"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <limits>

namespace scmoe::prof::formats {

namespace {
constexpr std::array<std::string_view, 6> kFlagNames = {"emulated", "dropped", "predicted",
                                                       "forward",  "backward", "weight_grad"};
constexpr std::array<std::string_view, 2> kDeviceKindNames = {"cpu", "gpu"};
constexpr std::array<std::string_view, 6> kTrackKindNames = {"compute_lane", "comm_lane",   "copy_lane",
                                                             "cuda_stream",  "host_thread", "annotation"};

template <typename T>
bool parse_integer(std::string_view text, T& out) {
  long long v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return false;
  if (v < static_cast<long long>(std::numeric_limits<T>::min()) ||
      v > static_cast<long long>(std::numeric_limits<T>::max())) {
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

template <std::size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}
}  // namespace

std::string_view flow_category(FlowKind kind) {
  switch (kind) {
    case FlowKind::Launch: return kFlowCategoryLaunch;
    case FlowKind::MoePipeline: return kFlowCategoryMoePipeline;
    case FlowKind::Other: break;
  }
  return kFlowCategoryOther;
}

bool is_span_field_arg(std::string_view key) {
  return key == "layer" || key == "iteration" || key == "op_instance" || key == "flags" || key == "depth";
}

bool apply_span_field_arg(std::string_view key, std::string_view value, Span& span) {
  if (key == "layer") return parse_integer(value, span.layer);
  if (key == "iteration") return parse_integer(value, span.iteration);
  if (key == "op_instance") return parse_integer(value, span.op_instance);
  if (key == "depth") return parse_integer(value, span.depth);
  if (key == "flags") {
    std::uint8_t flags = 0;
    while (!value.empty()) {
      const auto bar = value.find('|');
      const int bit = index_of(kFlagNames, value.substr(0, bar));
      if (bit < 0) return false;
      flags = static_cast<std::uint8_t>(flags | (1u << bit));
      value = bar == std::string_view::npos ? std::string_view() : value.substr(bar + 1);
    }
    span.flags = flags;
    return true;
  }
  return false;
}

std::string_view span_field_arg_expectation(std::string_view key) {
  if (key == "flags") {
    return "flag names joined by '|' (emulated, dropped, predicted, forward, backward, weight_grad)";
  }
  if (key == "depth") return "an integer 0..65535";
  return "a 32-bit integer";
}

std::string flags_text(std::uint8_t flags) {
  std::string out;
  for (std::size_t bit = 0; bit < kFlagNames.size(); ++bit) {
    if ((flags & (1u << bit)) == 0) continue;
    if (!out.empty()) out.push_back('|');
    out.append(kFlagNames[bit]);
  }
  return out;
}

std::string track_identity_json(const TrackInfo& info, std::size_t index) {
  return nlohmann::json{{"index", index},
                        {"rank", info.rank},
                        {"device", info.device},
                        {"device_kind", kDeviceKindNames[static_cast<std::size_t>(info.device_kind)]},
                        {"kind", kTrackKindNames[static_cast<std::size_t>(info.kind)]},
                        {"native_id", info.native_id},
                        {"name", info.name}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool parse_scmoe_track(std::string_view json, TrackInfo& info, std::int64_t& index) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  const auto rank = j.find("rank"), device = j.find("device"), device_kind = j.find("device_kind"),
             kind = j.find("kind"), native = j.find("native_id"), name = j.find("name");
  if (rank == j.end() || device == j.end() || device_kind == j.end() || kind == j.end() || native == j.end() ||
      name == j.end() || !rank->is_number_integer() || !device->is_number_integer() || !device_kind->is_string() ||
      !kind->is_string() || !native->is_number_integer() || !name->is_string()) {
    return false;
  }
  const int dk = index_of(kDeviceKindNames, device_kind->get<std::string>());
  const int k = index_of(kTrackKindNames, kind->get<std::string>());
  const auto r = rank->get<std::int64_t>(), d = device->get<std::int64_t>();
  if (dk < 0 || k < 0 || r < 0 || r > std::numeric_limits<std::int32_t>::max() ||
      d < std::numeric_limits<std::int32_t>::min() || d > std::numeric_limits<std::int32_t>::max()) {
    return false;
  }
  const auto i = j.find("index");
  if (i == j.end() || !i->is_number_integer()) return false;
  index = i->get<std::int64_t>();
  info.rank = static_cast<std::int32_t>(r);
  info.device = static_cast<std::int32_t>(d);
  info.device_kind = static_cast<DeviceKind>(dk);
  info.kind = static_cast<TrackKind>(k);
  info.native_id = native->get<std::int64_t>();
  info.name = name->get<std::string>();
  return true;
}

}  // namespace scmoe::prof::formats
