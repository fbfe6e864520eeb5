// Multi-process runs over Gloo on this machine (issue 15): bit-for-bit the in-process results, one
// merged trace, the Runner driving the other ranks, and the faults: config and world-size mismatches, a
// port in use, a rank killed with SIGKILL and a hung rank (every other rank ends with an error naming it
// within the timeout, and no process is left behind), and two ranks in two network namespaces joined by
// a veth pair as two hosts.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "multiprocess_port_holder.h"
#include "multiprocess_test_support.h"
#include "scmoe/engine/runner.h"
#include "scmoe/profiler/formats/load.h"

namespace eng = scmoe::engine;
namespace prof = scmoe::prof;
namespace fs = std::filesystem;
using eng::testing::Finished;
using eng::testing::RunningProgram;
using eng::testing::run_program;

namespace {

const std::string kScmoe = SCMOE_BINARY_DIR "/app/scmoe";
const std::string kWorker = SCMOE_BINARY_DIR "/tests/engine/scmoe_multiprocess_worker";
constexpr auto kLimit = std::chrono::seconds(90);

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "scmoe-multiprocess-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string meta(const prof::Trace& t, const std::string& key) {
  for (const auto& [k, v] : t.metadata) {
    if (k == key) return v;
  }
  return "(absent)";
}

prof::Trace load(const std::string& path) {
  prof::formats::LoadResult r = prof::formats::load_traces({path});
  EXPECT_EQ(r.error, "");
  return r.trace ? std::move(*r.trace) : prof::Trace{};
}

// Every rank of the merged trace has spans, and rank r's clock was left alone (one machine, one boot) while
// its estimate from the pings is within its own error bound of the truth, 0.
void expect_merged(const prof::Trace& t, int world) {
  ASSERT_EQ(static_cast<int>(t.ranks.size()), world);
  std::vector<std::size_t> spans(static_cast<std::size_t>(world));
  for (const prof::Track& track : t.tracks) spans.at(static_cast<std::size_t>(track.info.rank)) += track.spans.size();
  for (int r = 0; r < world; ++r) EXPECT_GT(spans[static_cast<std::size_t>(r)], 0u) << "rank " << r;
  EXPECT_EQ(meta(t, "processes"), std::to_string(world));
  for (int r = 1; r < world; ++r) {
    const std::string rank = ".rank" + std::to_string(r);
    EXPECT_EQ(meta(t, "clock" + rank), "same boot clock");
    EXPECT_EQ(meta(t, "clock_offset_ns" + rank), "0");
    std::int64_t offset = 0, half_round_trip = 0;
    std::string plus_minus;
    std::istringstream(meta(t, "clock_estimate_ns" + rank)) >> offset >> plus_minus >> half_round_trip;
    EXPECT_EQ(plus_minus, "+-");
    EXPECT_GT(half_round_trip, 0);
    EXPECT_LE(std::abs(offset), half_round_trip) << "rank " << r;
  }
}

// The workers over Gloo against one process running every rank, pass by pass, byte by byte.
void expect_bitwise_equal_to_one_process(int world) {
  TempDir dir;
  const Finished f = run_program({kScmoe, "launch", "-n", std::to_string(world), "--all-output", "--program", kWorker,
                                  "--", dir.path()},
                                 {}, kLimit);
  ASSERT_EQ(f.exit_code, 0) << f.out << f.err;
  eng::EngineConfig c = eng::testing::multiprocess_config(world);
  c.world_size = 1;
  at::set_num_threads(1);
  const eng::ModelWeights weights = eng::make_weights(c);
  eng::AbortSignal abort;
  eng::ForwardExecutor executor(c, weights, abort);
  for (const eng::testing::Pass& pass : eng::testing::multiprocess_passes()) {
    const eng::ForwardResult r =
        executor.run(pass.arch, eng::testing::plan_of(c, pass), pass.iteration, eng::make_rank_inputs(c, pass.iteration));
    for (int rank = 0; rank < world; ++rank) {
      const at::Tensor& y = r.outputs.at(static_cast<std::size_t>(rank));
      const std::string expected(static_cast<const char*>(y.data_ptr()), y.nbytes());
      EXPECT_TRUE(read_bytes(dir / eng::testing::output_name(pass, rank)) == expected)
          << eng::testing::output_name(pass, rank) << " differs from the in-process run";
    }
  }
  expect_merged(load(dir / "trace.scmoe"), world);
}

// Children of `pid` (its main thread's).
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

// The process among `pids` started as rank `rank` (its RANK variable).
pid_t rank_process(const std::vector<pid_t>& pids, int rank) {
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    for (std::string var; std::getline(in, var, '\0');) {
      if (var == "RANK=" + std::to_string(rank)) return pid;
    }
  }
  return -1;
}

bool exists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

struct Hurt {
  Finished launcher;
  std::vector<pid_t> ranks;
  double rank0_seconds = -1.0;  // from the signal to rank 0's end
};

// `scmoe launch` of two demo ranks that run until something stops them, seen running its iterations;
// then `signal` goes to rank 1.
Hurt hurt_rank_one(int signal, const std::string& timeout_s) {
  RunningProgram launcher({kScmoe, "launch", "-n", "2", "--timeout", timeout_s, "--", "run", "--preset", "demo",
                           "--iters", "100000", "--warmup", "1"});
  Hurt h;
  EXPECT_TRUE(launcher.wait_for_text("iteration 3/", std::chrono::seconds(60))) << launcher.so_far().err;
  h.ranks = children_of(launcher.pid());
  const pid_t rank0 = rank_process(h.ranks, 0), rank1 = rank_process(h.ranks, 1);
  EXPECT_GT(rank0, 0);
  EXPECT_GT(rank1, 0);
  const auto hurt_at = std::chrono::steady_clock::now();
  kill(rank1, signal);
  if (launcher.wait_until([&] { return !exists(rank0); }, std::chrono::seconds(60))) {
    h.rank0_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - hurt_at).count();
  }
  h.launcher = launcher.finish(kLimit);
  return h;
}


// Two workers started through a shell (`before` runs first, `worker_args` follow the worker's output
// folder): both must fail with `message`.
void expect_the_same_error_on_both_ranks(const std::string& worker_args, const std::string& before,
                                         const std::string& message) {
  TempDir dir;
  const std::string script = before + "exec " + kWorker + " " + dir.path() + worker_args;
  const Finished f = run_program({kScmoe, "launch", "-n", "2", "--all-output", "--program", "/bin/sh", "--", "-c", script},
                                 {}, kLimit);
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.err.find("[rank 0] worker rank 0: " + message), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("[rank 1] worker rank 1: " + message), std::string::npos) << f.err;
}

// Runs a shell command; its exit code.
int shell(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

}  // namespace

TEST(MultiProcess, TwoProcessesComputeBitForBitWhatOneProcessComputes) { expect_bitwise_equal_to_one_process(2); }

TEST(MultiProcess, FourProcessesComputeBitForBitWhatOneProcessComputes) { expect_bitwise_equal_to_one_process(4); }

TEST(MultiProcess, TheRunnerStartsTheOtherRanksAndDeliversEveryIterationThroughRankZero) {
  setenv("SCMOE_CLI", kScmoe.c_str(), 1);
  eng::EngineConfig c = eng::testing::multiprocess_config(2);
  c.ab_against_top2 = true;
  c.iterations = 2;
  c.warmup = 1;
  eng::apply_link_preset("pcie4", c.link);  // the emulated link on top of Gloo
  std::vector<eng::IterationResult> results;
  eng::Runner runner;
  ASSERT_TRUE(runner.start(c, {[&](const eng::IterationResult& r) { results.push_back(r); }, {}, {}}).empty());
  const eng::RunSummary s = runner.wait();
  ASSERT_EQ(s.error, "");
  EXPECT_EQ(s.iterations_done, 2);
  EXPECT_GT(s.speedup_x, 0.0);
  ASSERT_EQ(results.size(), 4u);  // each iteration and its top-2 twin
  for (const eng::IterationResult& r : results) {
    expect_merged(r.trace, 2);
    EXPECT_NE(meta(r.trace, "transport").find("gloo"), std::string::npos);
    EXPECT_NE(meta(r.trace, "emulated_link"), "(absent)");
    std::size_t emulated = 0;
    for (const prof::Track& t : r.trace.tracks) {
      for (const prof::Span& span : t.spans) emulated += span.has_flag(prof::kSpanEmulated) ? 1 : 0;
    }
    EXPECT_GT(emulated, 0u);
  }
}

TEST(MultiProcess, AConfigMismatchBetweenRanksIsOneErrorOnEveryRank) {
  expect_the_same_error_on_both_ranks(" $([ $RANK = 1 ] && echo num_experts=2)", "",
                                      "config mismatch between ranks: num_experts: 4 on rank 0, 2 on rank 1");
}

TEST(MultiProcess, AWorldSizeMismatchIsOneErrorOnEveryRank) {
  expect_the_same_error_on_both_ranks("", "[ $RANK = 1 ] && export WORLD_SIZE=4; ",
                                      "world size mismatch: rank 1 was started with world_size 4, rank 0 with 2");
}

TEST(MultiProcess, APortInUseIsOneClearError) {
  eng::testing::PortHolder busy;
  const std::string port = std::to_string(busy.port());
  const Finished launched = run_program(
      {kScmoe, "launch", "-n", "2", "--rendezvous", "127.0.0.1:" + port, "--", "run", "--preset", "demo"}, {}, kLimit);
  EXPECT_EQ(launched.exit_code, 2);
  EXPECT_NE(launched.err.find("scmoe launch: port " + port + " is in use on this machine"), std::string::npos)
      << launched.err;
  // Without the launcher (another launcher started rank 0): the engine says the same.
  const Finished run = run_program({kScmoe, "run", "--preset", "demo", "--iters", "1", "--world-size", "2", "--ep-size",
                                    "2", "--rank", "0", "--rendezvous", "127.0.0.1:" + port},
                                   {}, kLimit);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("rank 0 cannot serve the rendezvous store at 127.0.0.1:" + port + ": port " + port +
                         " is in use"),
            std::string::npos)
      << run.err;
}

TEST(MultiProcess, AKilledRankEndsTheOthersWithAnErrorNamingItAndLeavesNoProcess) {
  const Hurt h = hurt_rank_one(SIGKILL, "5");
  const Finished& f = h.launcher;
  EXPECT_FALSE(f.timed_out);
  EXPECT_GE(h.rank0_seconds, 0.0);
  EXPECT_LT(h.rank0_seconds, 5.0) << "rank 0 must end within the timeout";
  EXPECT_EQ(f.exit_code, 128 + SIGKILL);  // the first failure: rank 1's
  EXPECT_NE(f.err.find("scmoe run: the run failed: rank 1 stopped responding"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("rank 1: killed by signal 9 (SIGKILL)"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("rank 0: exited with 1"), std::string::npos) << f.err;
  EXPECT_EQ(f.err.find("stopped by the launcher"), std::string::npos) << "rank 0 must end by itself: " << f.err;
  ASSERT_EQ(h.ranks.size(), 2u);
  for (pid_t pid : h.ranks) EXPECT_FALSE(exists(pid)) << "pid " << pid << " outlived the run";
}

TEST(MultiProcess, AHungRankEndsTheOthersWithinTheTimeout) {
  const Hurt h = hurt_rank_one(SIGSTOP, "2");
  const Finished& f = h.launcher;
  EXPECT_FALSE(f.timed_out);
  // The heartbeat stands still for the 2 s timeout, then rank 0 stops (slack for a loaded machine).
  EXPECT_GE(h.rank0_seconds, 2.0);
  EXPECT_LT(h.rank0_seconds, 2.0 + 3.0);
  EXPECT_NE(f.err.find("scmoe run: the run failed: rank 1 stopped responding: no heartbeat for 2000 ms"),
            std::string::npos)
      << f.err;
  // Rank 0 ended by itself; the stopped rank 1 is the launcher's to end.
  EXPECT_NE(f.err.find("rank 0: exited with 1\n"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("rank 1: killed by signal 15 (SIGTERM) (stopped by the launcher"), std::string::npos) << f.err;
  for (pid_t pid : h.ranks) EXPECT_FALSE(exists(pid)) << "pid " << pid << " outlived the run";
}

TEST(MultiProcess, ARankBusyBetweenCollectivesLongerThanTheTimeoutIsNamed) {
  // Rank 1 sleeps 4 s before its second pass, heartbeats going; rank 0 waits in the next collective for
  // the 1 s timeout, then names the rank that entered fewer collectives.
  TempDir dir;
  const Finished f = run_program({kScmoe, "launch", "-n", "2", "--timeout", "1", "--all-output", "--program", kWorker,
                                  "--", dir.path(), "stall_ms=4000"},
                                 {}, kLimit);
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.err.find("[rank 0] worker rank 0: rank 1 is behind: it entered"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("(it is busy or stuck between two)"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("[rank 1] worker rank 1: rank 1 is behind"), std::string::npos) << f.err;
}

TEST(MultiProcess, AKilledLauncherTakesItsRanksAlong) {
  RunningProgram launcher({kScmoe, "launch", "-n", "2", "--program", "/bin/sh", "--", "-c", "echo started; exec sleep 60"});
  ASSERT_TRUE(launcher.wait_for_text("started", std::chrono::seconds(30)));
  std::vector<pid_t> ranks;
  for (int i = 0; i < 100 && ranks.size() < 2; ++i) {
    ranks = children_of(launcher.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(ranks.size(), 2u);
  kill(launcher.pid(), SIGKILL);
  launcher.finish(std::chrono::seconds(10));
  for (pid_t pid : ranks) {
    for (int i = 0; i < 100 && exists(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(exists(pid)) << "rank pid " << pid << " outlived its launcher";
  }
}

TEST(MultiProcess, LaunchOfTheDemoWithABFinishesWithASpeedupAndAMergedTrace) {
  TempDir dir;
  const Finished f = run_program({kScmoe, "launch", "-n", "2", "--", "run", "--preset", "demo", "--ab", "--iters", "3",
                                  "--warmup", "1", "--trace", dir / "demo.scmoe"},
                                 {}, kLimit);
  ASSERT_EQ(f.exit_code, 0) << f.out << f.err;
  EXPECT_NE(f.out.find("2 ranks"), std::string::npos) << f.out;
  const auto at = f.out.find("speedup vs top2: ");
  ASSERT_NE(at, std::string::npos) << f.out;
  EXPECT_GT(std::stod(f.out.substr(at + 17)), 0.0);
  EXPECT_NE(f.err.find("scmoe launch: 2 ranks: all exited 0"), std::string::npos) << f.err;
  const prof::Trace t = load(dir / "demo.scmoe");
  expect_merged(t, 2);
  EXPECT_EQ(meta(t, "transport").rfind("gloo", 0), 0u) << meta(t, "transport");
#ifdef SCMOE_STUDIO
  // The studio opens the merged trace (offscreen) and draws it.
  const Finished studio = run_program({SCMOE_STUDIO, dir / "demo.scmoe", "--screenshot", dir / "demo.png",
                                       "--export-report", dir / "demo.html", "--quit-after-run"},
                                      {"QT_QPA_PLATFORM=offscreen"}, kLimit);
  EXPECT_EQ(studio.exit_code, 0) << studio.err;
  EXPECT_GT(fs::file_size(dir / "demo.png"), 10'000u);
  const std::string report = read_bytes(dir / "demo.html");
  EXPECT_NE(report.find("rank 1"), std::string::npos);
#endif
}

TEST(MultiProcess, TwoHostsInNetworkNamespacesJoinedByAVethPair) {
  std::string ip;
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (ip.empty() && access(path, X_OK) == 0) ip = path;
  }
  if (ip.empty()) GTEST_SKIP() << "iproute2's ip is not installed (packaging/debian-packages.txt: iproute2)";
  const std::string id = std::to_string(getpid());
  const std::string a = "scmoe-t" + id + "-a", b = "scmoe-t" + id + "-b";
  if (shell(ip + " netns add " + a) != 0) {
    GTEST_SKIP() << "network namespaces are not permitted here (ip netns add failed: needs root or CAP_SYS_ADMIN)";
  }
  struct Cleanup {
    std::string ip, a, b;
    ~Cleanup() { shell(ip + " netns del " + a + "; " + ip + " netns del " + b); }
  } cleanup{ip, a, b};
  const std::string va = "scv" + id + "a", vb = "scv" + id + "b";
  for (const std::string& step : {"netns add " + b, "link add " + va + " type veth peer name " + vb,
                                  "link set " + va + " netns " + a, "link set " + vb + " netns " + b,
                                  "-n " + a + " addr add 10.213.0.1/24 dev " + va, "-n " + b + " addr add 10.213.0.2/24 dev " + vb,
                                  "-n " + a + " link set " + va + " up", "-n " + b + " link set " + vb + " up",
                                  "-n " + a + " link set lo up", "-n " + b + " link set lo up"}) {
    ASSERT_EQ(shell(ip + " " + step), 0) << "ip " << step;
  }
  TempDir dir;
  const auto host = [&](const std::string& ns, int rank) {
    return std::vector<std::string>{ip, "netns", "exec", ns, "env", "MASTER_ADDR=10.213.0.1", "MASTER_PORT=29611",
                                    "WORLD_SIZE=2", "RANK=" + std::to_string(rank), kScmoe, "launch", "-n", "1", "--",
                                    "run", "--preset", "demo", "--iters", "2", "--warmup", "1", "--trace",
                                    dir / ("host" + std::to_string(rank) + ".scmoe")};
  };
  RunningProgram host0(host(a, 0)), host1(host(b, 1));
  const Finished f0 = host0.finish(kLimit), f1 = host1.finish(kLimit);
  ASSERT_EQ(f0.exit_code, 0) << f0.err;
  ASSERT_EQ(f1.exit_code, 0) << f1.err;
  const prof::Trace t = load(dir / "host0.scmoe");  // rank 0's: the whole group
  expect_merged(t, 2);
  EXPECT_NE(meta(t, "transport").find("rendezvous 10.213.0.1:29611"), std::string::npos);
}
