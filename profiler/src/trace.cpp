#include "scmoe/profiler/trace.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>

#include "scmoe/profiler/huge_pages.h"

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

std::uint32_t Trace::add_args(std::span<const Arg> list) { return list.empty() ? kNoArgs : args.add(list); }

namespace {
constexpr std::size_t kHugePage = kHugePageBytes;
constexpr std::size_t kFirstSegmentArgs = 1024;
constexpr std::size_t kMaxSegmentArgs = kHugePage / sizeof(Arg);
constexpr std::size_t kFirstTextBlock = 16 << 10;
}  // namespace

void ArgTable::FreeBytes::operator()(void* p) const noexcept { std::free(p); }

// Small tables (an engine run's few args) stay small; storage grows geometrically to 2 MiB pieces,
// which are huge-page aligned and advised: a first import faults them in 512x fewer traps.
ArgTable::Storage ArgTable::allocate(std::size_t bytes) {
  void* p = nullptr;
  if (bytes >= kHugePage) {
    bytes = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    p = std::aligned_alloc(kHugePage, bytes);
    if (p != nullptr) advise_huge_pages(p, bytes);
  } else {
    p = std::malloc(bytes);
  }
  if (p == nullptr) throw std::bad_alloc();
  storage_bytes_ += bytes;
  return Storage(p);
}

ArgTable::ArgTable(const ArgTable& other) {
  reserve_lists(other.size());
  for (std::uint32_t i = 0; i < other.size(); ++i) add(other[i]);
}

ArgTable& ArgTable::operator=(const ArgTable& other) {
  if (this != &other) *this = ArgTable(other);
  return *this;
}

void ArgTable::swap(ArgTable& other) noexcept {
  lists_.swap(other.lists_);
  storage_.swap(other.storage_);
  std::swap(storage_bytes_, other.storage_bytes_);
  std::swap(segment_, other.segment_);
  std::swap(fill_, other.fill_);
  std::swap(open_, other.open_);
  std::swap(capacity_, other.capacity_);
  std::swap(next_segment_, other.next_segment_);
  std::swap(text_, other.text_);
  std::swap(text_left_, other.text_left_);
  std::swap(next_block_, other.next_block_);
}

std::uint32_t ArgTable::add(std::span<const Arg> list) {
  for (const Arg& a : list) push(a.key, a.value());
  return close_list();
}

void ArgTable::new_segment(std::size_t at_least) {
  next_segment_ = next_segment_ == 0 ? kFirstSegmentArgs : std::min(next_segment_ * 2, kMaxSegmentArgs);
  const std::size_t args = std::max(next_segment_, at_least);
  storage_.push_back(allocate(args * sizeof(Arg)));
  Arg* fresh = static_cast<Arg*>(storage_.back().get());
  // The open list moves along: a list is contiguous.
  const std::size_t open_size = fill_ - open_;
  if (open_size > 0) std::memcpy(static_cast<void*>(fresh), segment_ + open_, open_size * sizeof(Arg));
  segment_ = fresh;
  capacity_ = args;
  open_ = 0;
  fill_ = open_size;
}

void ArgTable::push(std::uint32_t key, std::string_view value) {
  if (fill_ == capacity_) new_segment(fill_ - open_ + 1);
  segment_[fill_++] = Arg(key, store(value));
}

std::uint32_t ArgTable::close_list() {
  lists_.push_back({segment_ + open_, static_cast<std::uint32_t>(fill_ - open_)});
  open_ = fill_;
  return static_cast<std::uint32_t>(lists_.size() - 1);
}

void ArgTable::append(ArgTable&& other, const std::vector<std::uint32_t>& key_map) {
  for (const ListRef& list : other.lists_) {
    // other's args are ours now: remap their keys in place.
    for (std::uint32_t i = 0; i < list.size; ++i) list.first[i].key = key_map[list.first[i].key];
  }
  lists_.insert(lists_.end(), other.lists_.begin(), other.lists_.end());
  storage_.insert(storage_.end(), std::make_move_iterator(other.storage_.begin()),
                  std::make_move_iterator(other.storage_.end()));
  storage_bytes_ += other.storage_bytes_;
  ArgTable().swap(other);
}

std::size_t ArgTable::memory_bytes() const { return lists_.capacity() * sizeof(ListRef) + storage_bytes_; }

std::string_view ArgTable::store(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) text = text.substr(0, std::numeric_limits<std::uint32_t>::max());
  // Texts are packed into blocks; a large one gets a block of its own and the packing goes on in the
  // current block.
  char* at = nullptr;
  if (text.size() >= kHugePage / 4) {
    storage_.push_back(allocate(text.size()));
    at = static_cast<char*>(storage_.back().get());
  } else {
    if (text.size() > text_left_) {
      next_block_ = next_block_ == 0 ? kFirstTextBlock : std::min(next_block_ * 2, kHugePage);
      storage_.push_back(allocate(next_block_));
      text_ = static_cast<char*>(storage_.back().get());
      text_left_ = next_block_;
    }
    at = text_;
    text_ += text.size();
    text_left_ -= text.size();
  }
  std::memcpy(at, text.data(), text.size());
  return {at, text.size()};
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
