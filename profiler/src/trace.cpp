#include "scmoe/profiler/trace.h"

#include <algorithm>
#include <array>
#include <numeric>

namespace scmoe::prof {

namespace {
constexpr std::array<std::string_view, kCategoryCount> kCategoryNames = {
    "attention", "mlp",      "expert",     "shared_expert", "gate",   "encode", "decode",
    "dispatch",  "combine",  "other_comm", "memcpy",        "memset", "other",
};
}  // namespace

std::string_view category_name(Category c) { return kCategoryNames[static_cast<std::size_t>(c)]; }

std::optional<Category> category_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kCategoryNames.size(); ++i) {
    if (kCategoryNames[i] == name) return static_cast<Category>(i);
  }
  return std::nullopt;
}

bool is_communication(Category c) {
  return c == Category::Dispatch || c == Category::Combine || c == Category::OtherComm;
}

bool is_computation(Category c) {
  return !is_communication(c) && c != Category::Memcpy && c != Category::Memset;
}

StringTable::StringTable(const StringTable& other) : strings_(other.strings_) {
  for (std::uint32_t id = 0; id < strings_.size(); ++id) index_.emplace(std::string_view(strings_[id]), id);
}

StringTable& StringTable::operator=(const StringTable& other) {
  if (this != &other) *this = StringTable(other);
  return *this;
}

std::uint32_t StringTable::intern(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(strings_.size());
  const std::string& stored = strings_.emplace_back(s);
  index_.emplace(std::string_view(stored), id);
  return id;
}

std::optional<std::uint32_t> StringTable::find(std::string_view s) const {
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  return std::nullopt;
}

std::uint32_t Trace::track_for(const TrackInfo& info) {
  for (std::size_t i = 0; i < tracks.size(); ++i) {
    const TrackInfo& t = tracks[i].info;
    if (t.rank == info.rank && t.device == info.device && t.device_kind == info.device_kind &&
        t.kind == info.kind && t.native_id == info.native_id && t.name == info.name) {
      return static_cast<std::uint32_t>(i);
    }
  }
  tracks.push_back(Track{info, {}});
  return static_cast<std::uint32_t>(tracks.size() - 1);
}

std::uint32_t Trace::add_args(ArgList list) {
  args.push_back(std::move(list));
  return static_cast<std::uint32_t>(args.size() - 1);
}

std::size_t Trace::span_count() const {
  std::size_t n = 0;
  for (const Track& t : tracks) n += t.spans.size();
  return n;
}

void Trace::finalize() {
  // new_position[track][old index] = new index, needed to keep flows pointing at the same spans.
  std::vector<std::vector<std::uint32_t>> new_position(tracks.size());
  for (std::size_t ti = 0; ti < tracks.size(); ++ti) {
    std::vector<Span>& spans = tracks[ti].spans;
    std::vector<std::uint32_t> order(spans.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return spans[a].start_ns < spans[b].start_ns;
    });
    std::vector<Span> sorted;
    sorted.reserve(spans.size());
    new_position[ti].resize(spans.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      sorted.push_back(spans[order[i]]);
      new_position[ti][order[i]] = i;
    }
    spans = std::move(sorted);
  }
  for (Flow& f : flows) {
    f.from.span = new_position[f.from.track][f.from.span];
    f.to.span = new_position[f.to.track][f.to.span];
  }
}

std::int64_t Trace::begin_ns() const {
  std::int64_t best = 0;
  bool any = false;
  for (const Track& t : tracks) {
    for (const Span& sp : t.spans) {
      if (!any || sp.start_ns < best) best = sp.start_ns, any = true;
    }
  }
  return best;
}

std::int64_t Trace::end_ns() const {
  std::int64_t best = 0;
  bool any = false;
  for (const Track& t : tracks) {
    for (const Span& sp : t.spans) {
      if (!any || sp.end_ns > best) best = sp.end_ns, any = true;
    }
  }
  return best;
}

}  // namespace scmoe::prof
