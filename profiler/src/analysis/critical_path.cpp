#include "scmoe/profiler/analysis/critical_path.h"

#include <algorithm>
#include <map>

#include "scmoe/profiler/analysis/iterations.h"

namespace scmoe::prof::analysis {

CriticalPath critical_path(const Trace& trace, const CriticalPathOptions& options) {
  // Nodes are the selected spans, numbered track by track in start order, so the node after v on the
  // same track is v + 1.
  std::vector<SpanRef> nodes;
  std::vector<std::int64_t> duration;
  std::vector<bool> follows_previous;  // node v depends on node v - 1 (same track)
  std::vector<std::vector<std::int32_t>> node_of_span(trace.tracks.size());
  // Imported traces without iteration tags: the iteration is a time window per rank.
  std::map<std::int32_t, Interval> step_window;
  bool by_window = false;
  if (options.iteration) {
    const IterationWindows windows = find_iterations(trace);
    if (windows.source == IterationSource::ProfilerSteps) {
      by_window = true;
      for (const IterationWindow& w : windows.windows) {
        if (w.iteration == *options.iteration) step_window[w.rank] = w.window;
      }
    }
  }
  for (std::int32_t rank : ranks_of(trace)) {
    const auto window = step_window.find(rank);
    if (by_window && window == step_window.end()) continue;  // this rank did not record that step
    for (std::uint32_t ti : selected_tracks(trace, rank, options.tracks)) {
      const std::vector<Span>& spans = trace.tracks[ti].spans;
      node_of_span[ti].assign(spans.size(), -1);
      bool first = true;
      for (std::uint32_t si = 0; si < spans.size(); ++si) {
        const Span& s = spans[si];
        if (s.depth != 0) continue;
        if (by_window && (s.start_ns < window->second.start || s.start_ns >= window->second.end)) continue;
        if (!by_window && options.iteration && s.iteration != *options.iteration) continue;
        node_of_span[ti][si] = static_cast<std::int32_t>(nodes.size());
        nodes.push_back(SpanRef{ti, si});
        duration.push_back(s.duration_ns());
        follows_previous.push_back(!first);
        first = false;
      }
    }
  }
  const std::size_t n = nodes.size();

  // Flow edges between selected spans, in compressed adjacency form.
  std::vector<std::pair<std::int32_t, std::int32_t>> edges;
  auto node_at = [&](const SpanRef& r) -> std::int32_t {
    if (r.track >= node_of_span.size() || r.span >= node_of_span[r.track].size()) return -1;
    return node_of_span[r.track][r.span];
  };
  for (const Flow& f : trace.flows) {
    const std::int32_t from = node_at(f.from), to = node_at(f.to);
    if (from >= 0 && to >= 0 && from != to) edges.emplace_back(from, to);
  }
  std::vector<std::uint32_t> first_edge(n + 1, 0);
  for (const auto& e : edges) ++first_edge[std::size_t(e.first) + 1];
  for (std::size_t v = 0; v < n; ++v) first_edge[v + 1] += first_edge[v];
  std::vector<std::int32_t> targets(edges.size());
  {
    std::vector<std::uint32_t> fill(first_edge.begin(), first_edge.end() - 1);
    for (const auto& e : edges) targets[fill[std::size_t(e.first)]++] = e.second;
  }

  std::vector<std::uint32_t> in_degree(n, 0);
  for (std::size_t v = 0; v < n; ++v) in_degree[v] = follows_previous[v] ? 1 : 0;
  for (const auto& e : edges) ++in_degree[std::size_t(e.second)];

  // Kahn's algorithm; longest[v] = duration[v] + max over predecessors.
  std::vector<std::int64_t> longest(duration);
  std::vector<std::int32_t> parent(n, -1);
  std::vector<std::int32_t> ready;
  for (std::size_t v = 0; v < n; ++v) {
    if (in_degree[v] == 0) ready.push_back(static_cast<std::int32_t>(v));
  }
  std::size_t visited = 0;
  auto relax = [&](std::int32_t from, std::int32_t to) {
    if (longest[std::size_t(from)] + duration[std::size_t(to)] > longest[std::size_t(to)]) {
      longest[std::size_t(to)] = longest[std::size_t(from)] + duration[std::size_t(to)];
      parent[std::size_t(to)] = from;
    }
    if (--in_degree[std::size_t(to)] == 0) ready.push_back(to);
  };
  while (!ready.empty()) {
    const std::int32_t v = ready.back();
    ready.pop_back();
    ++visited;
    if (std::size_t(v) + 1 < n && follows_previous[std::size_t(v) + 1]) relax(v, v + 1);
    for (std::uint32_t e = first_edge[std::size_t(v)]; e < first_edge[std::size_t(v) + 1]; ++e) relax(v, targets[e]);
  }

  CriticalPath result;
  if (visited != n) {
    for (std::size_t v = 0; v < n; ++v) {
      if (in_degree[v] != 0) {
        result.error = "flows form a cycle through span " + std::to_string(nodes[v].span) + " of track " +
                       std::to_string(nodes[v].track) + " (" + std::string(trace.name_of(
                           trace.tracks[nodes[v].track].spans[nodes[v].span])) + ")";
        return result;
      }
    }
  }
  if (n == 0) return result;
  std::int32_t end = 0;
  for (std::size_t v = 1; v < n; ++v) {
    if (longest[v] > longest[std::size_t(end)]) end = static_cast<std::int32_t>(v);
  }
  result.length_ns = longest[std::size_t(end)];
  for (std::int32_t v = end; v >= 0; v = parent[std::size_t(v)]) {
    result.chain.push_back(nodes[std::size_t(v)]);
    const Span& s = trace.tracks[nodes[std::size_t(v)].track].spans[nodes[std::size_t(v)].span];
    if (is_communication(s.category)) result.comm_ns += s.duration_ns();
  }
  std::reverse(result.chain.begin(), result.chain.end());
  return result;
}

}  // namespace scmoe::prof::analysis
