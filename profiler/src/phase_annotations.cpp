// apply_phase_annotations (classify.h): kernels take the phase, pass and layer of the annotations around
// them, found through launch correlation on the CPU side and by time on the GPU side.
//
// Both sides are the same query: "which annotation ranges of this thread / device contain time t,
// innermost first". Ranges and query times are sorted and swept together with a stack of open ranges, so
// a trace costs O((ranges + kernels) log) however long its ProfilerStep spans are.
#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "scmoe/profiler/classify.h"

namespace scmoe::prof {

namespace {

// Where annotations live: a host thread (rank, thread id) or a GPU (rank, device).
struct Place {
  std::int32_t rank = 0;
  std::int64_t id = 0;
  bool operator<(const Place& o) const { return rank != o.rank ? rank < o.rank : id < o.id; }
};

struct Range {
  std::int64_t start, end;
  std::uint32_t verdict;  // index into Annotations::verdicts
};

struct Query {
  std::int64_t time;
  std::uint32_t kernel;  // index into the kernel list
};

// Ranges contained in no other by more than this many open ranges are not looked at: annotations nest
// a few levels deep; only a hostile trace opens thousands at once.
constexpr std::size_t kMaxOpenRangesLooked = 256;

// The annotation ranges that have something to say, by place, and what each says.
struct Annotations {
  std::vector<AnnotationVerdict> verdicts;
  std::map<Place, std::vector<Range>> host, gpu;
};

Annotations collect_annotations(const Trace& trace, const ClassificationRules& rules) {
  Annotations out;
  std::unordered_map<std::uint32_t, std::optional<std::uint32_t>> by_name;  // name id -> verdict index
  for (const Track& t : trace.tracks) {
    const bool host = t.info.device_kind == DeviceKind::Cpu &&
                      (t.info.kind == TrackKind::HostThread || t.info.kind == TrackKind::Annotation);
    const bool gpu = t.info.device_kind == DeviceKind::Gpu && t.info.kind == TrackKind::Annotation;
    if (!host && !gpu) continue;
    const Place place{t.info.rank, host ? t.info.native_id : t.info.device};
    std::vector<Range>& ranges = (host ? out.host : out.gpu)[place];
    for (const Span& s : t.spans) {
      auto [it, inserted] = by_name.try_emplace(s.name);
      if (inserted) {
        const AnnotationVerdict v = rules.annotation(trace.strings.view(s.name));
        if (v.any()) {
          it->second = static_cast<std::uint32_t>(out.verdicts.size());
          out.verdicts.push_back(v);
        }
      }
      if (it->second) ranges.push_back({s.start_ns, s.end_ns, *it->second});
    }
  }
  for (auto* side : {&out.host, &out.gpu}) {
    for (auto& [place, ranges] : *side) {
      // Outer before inner: by start, and the longer first among equal starts.
      std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
        return a.start != b.start ? a.start < b.start : a.end > b.end;
      });
    }
  }
  return out;
}

// Folds the verdicts of the ranges open at each query time into `into[query.kernel]`, innermost first;
// attributes already decided are kept.
void sweep(const std::vector<Range>& ranges, std::vector<Query>& queries, const std::vector<AnnotationVerdict>& verdicts,
           std::vector<AnnotationVerdict>& into) {
  std::sort(queries.begin(), queries.end(), [](const Query& a, const Query& b) { return a.time < b.time; });
  std::vector<const Range*> open;
  std::size_t next = 0;
  for (const Query& q : queries) {
    while (next < ranges.size() && ranges[next].start <= q.time) {
      // Ranges closed before this one opens are never open again (queries only move forward).
      while (!open.empty() && open.back()->end < ranges[next].start) open.pop_back();
      open.push_back(&ranges[next++]);
    }
    while (!open.empty() && open.back()->end < q.time) open.pop_back();
    AnnotationVerdict& v = into[q.kernel];
    std::size_t looked = 0;
    for (auto it = open.rbegin(); it != open.rend() && looked < kMaxOpenRangesLooked; ++it, ++looked) {
      if ((*it)->end < q.time) continue;  // closed, below a range that is still open
      const AnnotationVerdict& a = verdicts[(*it)->verdict];
      if (v.phase == AnnotatedPhase::Unset || (v.phase == AnnotatedPhase::Communication &&
                                               (a.phase == AnnotatedPhase::Dispatch || a.phase == AnnotatedPhase::Combine))) {
        // A bare all-to-all inside a dispatch annotation is that dispatch.
        if (a.phase != AnnotatedPhase::Unset) v.phase = a.phase;
      }
      if (v.pass == AnnotatedPass::Unset) v.pass = a.pass;
      if (v.layer == kNoIndex) v.layer = a.layer;
    }
  }
}

// The host span that launched each kernel: its launch flow, else the runtime call with the same
// "correlation" arg on the kernel's rank.
class Launches {
 public:
  explicit Launches(const Trace& trace) : trace_(trace) {
    for (const Flow& f : trace.flows) {
      if (f.kind != FlowKind::Launch) continue;
      if (trace.tracks[f.from.track].info.device_kind != DeviceKind::Cpu) continue;
      by_kernel_.emplace(key(f.to), f.from);
    }
    correlation_key_ = trace.strings.find("correlation");
  }

  std::optional<SpanRef> of(SpanRef kernel) {
    if (auto it = by_kernel_.find(key(kernel)); it != by_kernel_.end()) return it->second;
    const Span& s = trace_.tracks[kernel.track].spans[kernel.span];
    const auto value = correlation(s);
    if (!value) return std::nullopt;
    if (!by_correlation_) index_correlations();
    const auto it = by_correlation_->find({trace_.tracks[kernel.track].info.rank, *value});
    if (it == by_correlation_->end()) return std::nullopt;
    return it->second;
  }

 private:
  static std::uint64_t key(SpanRef r) { return (std::uint64_t{r.track} << 32) | r.span; }

  std::optional<std::string_view> correlation(const Span& s) const {
    if (!correlation_key_ || s.args == kNoArgs) return std::nullopt;
    for (const Arg& a : trace_.args[s.args]) {
      if (a.key == *correlation_key_) return a.value();
    }
    return std::nullopt;
  }

  void index_correlations() {
    by_correlation_.emplace();
    for (std::uint32_t t = 0; t < trace_.tracks.size(); ++t) {
      const TrackInfo& info = trace_.tracks[t].info;
      if (info.device_kind != DeviceKind::Cpu || info.kind != TrackKind::HostThread) continue;
      const auto& spans = trace_.tracks[t].spans;
      for (std::uint32_t i = 0; i < spans.size(); ++i) {
        if (const auto value = correlation(spans[i])) by_correlation_->try_emplace({info.rank, *value}, SpanRef{t, i});
      }
    }
  }

  const Trace& trace_;
  std::unordered_map<std::uint64_t, SpanRef> by_kernel_;
  std::optional<std::uint32_t> correlation_key_;
  std::optional<std::map<std::pair<std::int32_t, std::string_view>, SpanRef>> by_correlation_;
};

Category phase_category(AnnotatedPhase p) {
  return p == AnnotatedPhase::Dispatch ? Category::Dispatch
         : p == AnnotatedPhase::Combine ? Category::Combine
                                         : Category::OtherComm;
}

// Applies one kernel's verdict; true when its category changed.
bool apply(const AnnotationVerdict& v, const RulesPolicy& policy, Span& s) {
  const Category before = s.category;
  const bool named_phase = v.phase == AnnotatedPhase::Dispatch || v.phase == AnnotatedPhase::Combine;
  const bool comm_region = named_phase || v.phase == AnnotatedPhase::Communication;
  if (s.category == Category::OtherComm && named_phase) {
    s.category = phase_category(v.phase);
  } else if (is_computation(s.category) && comm_region &&
             policy.compute_in_comm_annotation == AnnotatedCompute::Communication) {
    s.category = phase_category(v.phase);
  }
  if (v.pass != AnnotatedPass::Unset) {
    s.flags &= static_cast<std::uint8_t>(~(kSpanForward | kSpanBackward | kSpanWeightGrad));
    if (v.pass == AnnotatedPass::Forward) s.flags |= kSpanForward;
    if (v.pass == AnnotatedPass::Backward) s.flags |= kSpanBackward;
    if (v.pass == AnnotatedPass::WeightGrad) s.flags |= kSpanWeightGrad;
  }
  if (s.layer == kNoIndex && v.layer != kNoIndex) s.layer = v.layer;
  return s.category != before;
}

}  // namespace

std::size_t apply_phase_annotations(Trace& trace, const ClassificationRules& rules) {
  std::vector<SpanRef> kernels;
  for (std::uint32_t t = 0; t < trace.tracks.size(); ++t) {
    if (trace.tracks[t].info.kind != TrackKind::CudaStream) continue;
    for (std::uint32_t i = 0; i < trace.tracks[t].spans.size(); ++i) kernels.push_back({t, i});
  }
  if (kernels.empty()) return 0;
  const Annotations annotations = collect_annotations(trace, rules);
  if (annotations.verdicts.empty()) return 0;

  // GPU side first: it is folded first, so an execution-time range beats the launch-time ones.
  std::map<Place, std::vector<Query>> gpu_queries, host_queries;
  Launches launches(trace);
  for (std::uint32_t k = 0; k < kernels.size(); ++k) {
    const Track& track = trace.tracks[kernels[k].track];
    const Span& s = track.spans[kernels[k].span];
    const Place gpu{track.info.rank, track.info.device};
    if (annotations.gpu.count(gpu) != 0) gpu_queries[gpu].push_back({s.start_ns, k});
    if (const auto launch = launches.of(kernels[k])) {
      const Track& host = trace.tracks[launch->track];
      const Place place{host.info.rank, host.info.native_id};
      if (annotations.host.count(place) != 0) {
        host_queries[place].push_back({host.spans[launch->span].start_ns, k});
      }
    }
  }
  std::vector<AnnotationVerdict> verdicts(kernels.size());
  for (auto& [place, queries] : gpu_queries) sweep(annotations.gpu.at(place), queries, annotations.verdicts, verdicts);
  for (auto& [place, queries] : host_queries) sweep(annotations.host.at(place), queries, annotations.verdicts, verdicts);

  std::size_t changed = 0;
  for (std::uint32_t k = 0; k < kernels.size(); ++k) {
    if (!verdicts[k].any()) continue;
    changed += apply(verdicts[k], rules.policy(), trace.tracks[kernels[k].track].spans[kernels[k].span]);
  }
  return changed;
}

}  // namespace scmoe::prof
