#include "parallel/gloo_rendezvous.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scmoe/profiler/capture/host_collector.h"

namespace scmoe::engine {

namespace {

constexpr int kClockPings = 8;

std::string key(const char* name, int rank) { return std::string("scmoe/") + name + "/" + std::to_string(rank); }
std::string ping_key(const char* name, int rank, int i) { return key(name, rank) + "/" + std::to_string(i); }
std::string ranks_text(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return (ranks.size() == 1 ? "rank " : "ranks ") + out;
}

// Processes of one boot of one machine share CLOCK_MONOTONIC (steady_clock), so their spans need no shift.
std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

struct Hello {
  int world = 0;
  std::string boot;
  std::string config;
};

std::string hello_text(int world, const std::string& config) {
  return std::to_string(world) + "\n" + boot_id() + "\n" + config;
}

Hello parse_hello(const std::string& text) {
  Hello h;
  std::istringstream in(text);
  std::string world;
  std::getline(in, world);
  std::getline(in, h.boot);
  h.world = std::stoi(world);
  h.config = text.substr(std::min(text.size(), world.size() + h.boot.size() + 2));
  return h;
}

[[noreturn]] void fail(RunStore& store, const std::string& message) { throw RankFailure(store.publish_abort(message)); }

// Rank 0: every hello, checked against its own.
std::vector<Hello> gather_hellos(RunStore& store, int world, const Hello& own, const AbortSignal& abort) {
  std::vector<std::string> keys;
  for (int r = 1; r < world; ++r) keys.push_back(key("hello", r));
  if (!store.wait_for(keys, Clock::now() + store.timeout(), &abort)) {
    std::vector<int> missing;
    for (int r = 1; r < world; ++r) {
      if (!store.has(key("hello", r))) missing.push_back(r);
    }
    fail(store, ranks_text(missing) + " of " + std::to_string(world) + " did not join within " +
                    duration_text(store.timeout()) + " (rendezvous at " + store.address().text() + ")");
  }
  std::vector<Hello> hellos{own};
  for (int r = 1; r < world; ++r) {
    Hello h = parse_hello(store.get(key("hello", r)));
    if (h.world != world) {
      fail(store, "world size mismatch: rank " + std::to_string(r) + " was started with world_size " +
                      std::to_string(h.world) + ", rank 0 with " + std::to_string(world));
    }
    if (h.config != own.config) {
      fail(store, "config mismatch between ranks: " + config_difference(own.config, h.config, r));
    }
    hellos.push_back(std::move(h));
  }
  return hellos;
}

// Rank 0's side of the pings to `rank`; the estimate from the shortest round trip.
prof::ClockOffset ping(RunStore& store, int rank) {
  std::vector<prof::ClockSample> samples;
  for (int i = 0; i < kClockPings; ++i) {
    prof::ClockSample s;
    s.sent_ns = prof::capture::HostCollector::now_ns();
    store.set(ping_key("ping", rank, i), "");
    store.wait(ping_key("pong", rank, i));
    s.received_ns = prof::capture::HostCollector::now_ns();
    s.peer_ns = std::stoll(store.get(ping_key("pong", rank, i)));
    samples.push_back(s);
  }
  return prof::estimate_clock_offset(samples);
}

void answer_pings(RunStore& store, int rank) {
  for (int i = 0; i < kClockPings; ++i) {
    store.wait(ping_key("ping", rank, i));
    store.set(ping_key("pong", rank, i), std::to_string(prof::capture::HostCollector::now_ns()));
  }
}

std::string clocks_text(const std::vector<RankClock>& clocks) {
  std::string out;
  for (const RankClock& c : clocks) {
    out += std::to_string(c.estimate.offset_ns) + " " + std::to_string(c.estimate.round_trip_ns) + " " +
           (c.same_boot_clock ? "1" : "0") + "\n";
  }
  return out;
}

std::vector<RankClock> parse_clocks(const std::string& text) {
  std::vector<RankClock> clocks;
  std::istringstream in(text);
  RankClock c;
  int same = 0;
  while (in >> c.estimate.offset_ns >> c.estimate.round_trip_ns >> same) {
    c.same_boot_clock = same != 0;
    clocks.push_back(c);
  }
  return clocks;
}

void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (!j.is_object()) {
    out[prefix] = j.dump();
    return;
  }
  for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
}

}  // namespace

std::string config_difference(const std::string& rank0_json, const std::string& other_json, int other_rank) {
  std::map<std::string, std::string> a, b;
  try {
    flatten(nlohmann::json::parse(rank0_json), "", a);
    flatten(nlohmann::json::parse(other_json), "", b);
  } catch (const nlohmann::json::exception&) {
    return "the configs differ (one is not JSON: a different version of scmoe?)";
  }
  for (const auto& [k, v] : b) a.try_emplace(k, "(absent)");
  std::vector<std::string> differences;
  for (const auto& [k, v] : a) {
    const auto it = b.find(k);
    const std::string other = it == b.end() ? "(absent)" : it->second;
    if (other != v) differences.push_back(k + ": " + v + " on rank 0, " + other + " on rank " + std::to_string(other_rank));
  }
  std::string out;
  for (std::size_t i = 0; i < differences.size() && i < 3; ++i) out += (i ? "; " : "") + differences[i];
  if (differences.size() > 3) out += "; and " + std::to_string(differences.size() - 3) + " more";
  return out.empty() ? "the config texts differ" : out;
}

std::vector<RankClock> meet(RunStore& store, int rank, int world, const std::string& config_json,
                            const AbortSignal& abort) {
  if (store.add(key("claim", rank), 1) > 1) {
    fail(store, "two processes were started as rank " + std::to_string(rank) + " (check RANK / --rank)");
  }
  const std::string own_hello = hello_text(world, config_json);
  store.set(key("hello", rank), own_hello);
  if (rank == 0) {
    const std::vector<Hello> hellos = gather_hellos(store, world, parse_hello(own_hello), abort);
    store.set("scmoe/verdict", "ok");
    std::vector<RankClock> clocks(1);
    for (int r = 1; r < world; ++r) {
      clocks.push_back({ping(store, r), hellos[static_cast<std::size_t>(r)].boot == hellos[0].boot});
    }
    store.set("scmoe/clocks", clocks_text(clocks));
    return clocks;
  }
  const Clock::time_point deadline = Clock::now() + store.timeout();
  if (!store.wait_for({key("hello", 0)}, deadline, &abort)) {
    fail(store, "rank 0 did not say hello within " + duration_text(store.timeout()));
  }
  const Hello rank0 = parse_hello(store.get(key("hello", 0)));
  if (rank0.world != world) {
    fail(store, "world size mismatch: rank " + std::to_string(rank) + " was started with world_size " +
                    std::to_string(world) + ", rank 0 with " + std::to_string(rank0.world));
  }
  if (!store.wait_for({"scmoe/verdict"}, deadline, &abort)) {
    fail(store, "rank 0 did not confirm the rendezvous within " + duration_text(store.timeout()));
  }
  answer_pings(store, rank);
  if (!store.wait_for({"scmoe/clocks"}, Clock::now() + store.timeout(), &abort)) {
    fail(store, "rank 0 did not publish the clock offsets within " + duration_text(store.timeout()));
  }
  return parse_clocks(store.get("scmoe/clocks"));
}

}  // namespace scmoe::engine
