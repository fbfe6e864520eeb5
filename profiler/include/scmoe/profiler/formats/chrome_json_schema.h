// What ScMoE Studio adds to the Chrome trace format so its own exports re-import exactly: a top-level
// "scmoe" header (written before "traceEvents"), the track identity in each thread_name metadata event,
// span fields (layer, iteration, op instance, flags, depth) as args, and flow categories. Perfetto and
// chrome://tracing ignore all of it or show it as plain args.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

inline constexpr std::string_view kScmoeHeaderKey = "scmoe";       // {"version":1, "ranks":..., ...}
inline constexpr std::string_view kScmoeTrackArg = "scmoe_track";  // in thread_name args
inline constexpr std::string_view kFlowCategoryLaunch = "launch";
inline constexpr std::string_view kFlowCategoryMoePipeline = "moe_pipeline";
inline constexpr std::string_view kFlowCategoryOther = "flow";

std::string_view flow_category(FlowKind kind);

// Span fields carried in args: "layer", "iteration", "op_instance" (integers), "depth" (integer),
// "flags" (names joined by '|': "emulated|dropped").
bool is_span_field_arg(std::string_view key);
// Sets the field from the arg's JSON text; false if the value is not what the key needs.
bool apply_span_field_arg(std::string_view key, std::string_view value, Span& span);
std::string_view span_field_arg_expectation(std::string_view key);
std::string flags_text(std::uint8_t flags);

// {"index":0,"rank":0,"device":0,"device_kind":"gpu","kind":"cuda_stream","native_id":7,"name":"stream 7"};
// index: the track's position in the trace (Chrome groups threads by process, so the order is kept here).
std::string track_identity_json(const TrackInfo& info, std::size_t index);
bool parse_scmoe_track(std::string_view json, TrackInfo& info, std::int64_t& index);

}  // namespace scmoe::prof::formats
