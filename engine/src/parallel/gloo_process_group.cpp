#include "parallel/gloo_process_group.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>

#include "parallel/gloo_communicator.h"
#include "parallel/gloo_rendezvous.h"
#include "parallel/gloo_transport.h"
#include "schedule/forward_executor.h"
#include "scmoe/engine/config_io.h"
#include "scmoe/profiler/formats/native.h"
#include "scmoe/profiler/trace_merge.h"

namespace scmoe::engine {

namespace {

// How long rank 0 keeps serving the store after a failure, so the others (who look every 100 ms) can read
// why the run stopped.
constexpr std::chrono::seconds kLingerAfterFailure{1};

// The config every rank must share: without this rank's place in the group.
std::string shared_config_json(EngineConfig c) {
  c.rank = 0;
  c.local_device = 0;
  c.rendezvous.clear();
  return config_to_json(c);
}

StoreAddress store_address(const EngineConfig& c) {
  StoreAddress a;
  if (!parse_rendezvous(c.rendezvous, a.host, a.port)) {
    throw std::runtime_error("rendezvous: expected \"host:port\", got \"" + c.rendezvous + "\"");
  }
  return a;
}

// One rank's iteration, as it travels to the others: its statistics, then its trace (.scmoe bytes).
struct RankIteration {
  double wall_ms = 0.0;
  std::int64_t tokens_dropped = 0;
  double aux_loss = 0.0;
  std::vector<ShortcutSimilarity> similarity;
  std::string trace;
};

template <typename T>
void put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
T take(std::string_view& in) {
  if (in.size() < sizeof(T)) throw std::runtime_error("a rank's iteration record is cut short");
  T value;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return value;
}

std::string encode(const ForwardResult& r) {
  std::string out;
  put(out, r.wall_ms);
  put(out, r.tokens_dropped);
  put(out, r.aux_loss);
  put(out, static_cast<std::uint32_t>(r.similarity.size()));
  for (const ShortcutSimilarity& s : r.similarity) {
    put(out, static_cast<std::int32_t>(s.layer));
    put(out, s.cosine);
    put(out, s.l2);
  }
  out += prof::formats::encode_native(r.trace);
  return out;
}

RankIteration decode(std::string_view in) {
  RankIteration r;
  r.wall_ms = take<double>(in);
  r.tokens_dropped = take<std::int64_t>(in);
  r.aux_loss = take<double>(in);
  const auto similarities = take<std::uint32_t>(in);
  for (std::uint32_t i = 0; i < similarities && !in.empty(); ++i) {
    ShortcutSimilarity s;
    s.layer = take<std::int32_t>(in);
    s.cosine = take<double>(in);
    s.l2 = take<double>(in);
    r.similarity.push_back(s);
  }
  r.trace = std::string(in);
  return r;
}

}  // namespace

struct GlooProcessGroup::Impl {
  Impl(const EngineConfig& config, const AbortSignal& abort)
      : config(config),
        abort(abort),
        timeout(rank_timeout()),
        store(store_address(config), config.rank, config.world_size, join_timeout(timeout)) {}

  EngineConfig config;
  const AbortSignal& abort;
  std::chrono::milliseconds timeout;
  RunStore store;
  std::vector<RankClock> clocks;
  std::optional<Watchdog> watchdog;
  std::optional<GlooTransport> transport;
  std::atomic<bool> failed{false};

  // Every rank's record of the iteration, in rank order (two collectives: the sizes, then the records).
  std::vector<RankIteration> all_gather(const std::string& record) {
    c10d::ProcessGroupGloo& group = transport->group();
    std::vector<at::Tensor> size_in{at::tensor({static_cast<std::int64_t>(record.size())}, at::kLong)};
    std::vector<std::vector<at::Tensor>> size_out(1);
    for (int r = 0; r < config.world_size; ++r) size_out[0].push_back(at::empty({1}, at::kLong));
    transport->wait(group.allgather(size_out, size_in), "the trace gather (sizes)");
    std::int64_t longest = 0;
    for (const at::Tensor& t : size_out[0]) longest = std::max(longest, t.item<std::int64_t>());
    std::vector<at::Tensor> in{at::zeros({longest}, at::kByte)};
    std::memcpy(in[0].data_ptr(), record.data(), record.size());
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < config.world_size; ++r) out[0].push_back(at::empty({longest}, at::kByte));
    transport->wait(group.allgather(out, in), "the trace gather");
    std::vector<RankIteration> all;
    for (int r = 0; r < config.world_size; ++r) {
      const auto* bytes = static_cast<const char*>(out[0][static_cast<std::size_t>(r)].data_ptr());
      all.push_back(decode({bytes, static_cast<std::size_t>(size_out[0][static_cast<std::size_t>(r)].item<std::int64_t>())}));
    }
    return all;
  }

  // Tells the others this rank is done (after a failure or a cancel: why the run stops, unless a rank did
  // already). Rank 0 serves the store: it keeps it until every rank that still beats has left (after a
  // failure, at most kLingerAfterFailure), so the others can read the run's abort message.
  void leave(bool clean) {
    try {
      if (!clean) {
        store.publish_abort("rank " + std::to_string(config.rank) + " stopped before the end of the run "
                            "(cancelled, or it failed)");
      }
      const std::vector<int> silent = watchdog ? watchdog->silent_ranks() : std::vector<int>{};
      transport.reset();
      watchdog.reset();
      store.set("scmoe/left/" + std::to_string(config.rank), "");
      if (config.rank != 0) return;
      std::vector<std::string> keys;
      for (int r = 1; r < config.world_size; ++r) {
        if (std::find(silent.begin(), silent.end(), r) == silent.end()) keys.push_back("scmoe/left/" + std::to_string(r));
      }
      const auto linger = clean ? timeout : std::chrono::milliseconds(kLingerAfterFailure);
      store.wait_for(keys, Clock::now() + linger, nullptr, false);
    } catch (const std::exception&) {
      // The store is gone (rank 0 ended): nothing left to tell.
    }
  }

  std::string transport_text() const {
    return "gloo (c10d ProcessGroupGloo): " + std::to_string(config.world_size) + " processes, rendezvous " +
           config.rendezvous;
  }
};

GlooProcessGroup::GlooProcessGroup(const EngineConfig& config, const AbortSignal& abort)
    : impl_(std::make_unique<Impl>(config, abort)) {
  Impl& i = *impl_;
  try {
    i.clocks = meet(i.store, config.rank, config.world_size, shared_config_json(config), abort);
    i.watchdog.emplace(i.store.address(), config.rank, config.world_size, i.timeout);
    i.transport.emplace(i.store, *i.watchdog, abort, config.rank, config.world_size, i.timeout);
  } catch (const RankFailure&) {
    i.leave(false);
    throw;
  } catch (const Cancelled&) {
    i.leave(false);
    throw;
  } catch (const std::exception& e) {
    i.leave(false);
    if (config.rank == 0) throw;
    // Anything else on the way is the store's connection breaking: rank 0 ended.
    throw std::runtime_error("rank 0's rendezvous store at " + config.rendezvous + " stopped answering during the "
                             "start (rank 0 ended: see its error): " + e.what());
  }
}

GlooProcessGroup::~GlooProcessGroup() {
  Impl& i = *impl_;
  i.leave(!i.failed && !i.abort.triggered() && !(i.transport && i.transport->pending()));
}

std::unique_ptr<Communicator> GlooProcessGroup::communicator() { return make_gloo_communicator(*impl_->transport); }

void GlooProcessGroup::merge_iteration(ForwardResult& result) {
  Impl& i = *impl_;
  std::vector<RankIteration> ranks = i.all_gather(encode(result));
  std::vector<prof::ProcessTrace> parts;
  ForwardResult merged;
  merged.outputs = std::move(result.outputs);
  const double n = static_cast<double>(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    RankIteration& it = ranks[r];
    merged.wall_ms = std::max(merged.wall_ms, it.wall_ms);
    merged.tokens_dropped += it.tokens_dropped;
    merged.aux_loss += it.aux_loss / n;
    if (merged.similarity.empty()) merged.similarity.assign(it.similarity.size(), {});
    for (std::size_t l = 0; l < std::min(it.similarity.size(), merged.similarity.size()); ++l) {
      merged.similarity[l].layer = it.similarity[l].layer;
      merged.similarity[l].cosine += it.similarity[l].cosine / n;
      merged.similarity[l].l2 += it.similarity[l].l2 / n;
    }
    prof::ProcessTrace part;
    const std::string source = "rank " + std::to_string(r) + "'s trace";
    if (std::string error = prof::formats::decode_native(it.trace, source, part.trace); !error.empty()) {
      i.failed = true;
      throw std::runtime_error(error);
    }
    part.estimate = i.clocks.at(r).estimate;
    part.same_boot_clock = i.clocks.at(r).same_boot_clock;
    parts.push_back(std::move(part));
  }
  merged.trace = prof::merge_process_traces(std::move(parts));
  merged.trace.metadata.emplace_back("transport", i.transport_text());
  if (i.config.link.enabled) {
    merged.trace.metadata.emplace_back("emulated_link", "on top of gloo: the communication spans last as long as the "
                                                        "modelled link would take, not the loopback transfer");
  }
  result = std::move(merged);
}

void GlooProcessGroup::report_failure(std::exception_ptr error) {
  std::string message;
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled&) {
    return;  // the consequence of a failure elsewhere, or of a cancel
  } catch (const RankFailure&) {
    return;  // published already
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "unknown error";
  }
  impl_->failed = true;
  try {
    impl_->store.publish_abort("rank " + std::to_string(impl_->config.rank) + " failed: " + message);
  } catch (const std::exception&) {
  }
}

}  // namespace scmoe::engine
