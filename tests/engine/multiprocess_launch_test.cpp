// The launcher's mechanics with /bin/sh as the rank program (no LibTorch, so quick): placement from the
// torchrun variables, exit codes and signals, the end of a failed rank's stderr, the run flags and the
// output files only rank 0 keeps, Ctrl-C forwarding, and stopping the ranks that outlive a failure.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "multiprocess_port_holder.h"
#include "scmoe/engine/launch.h"

namespace launch = scmoe::engine::launch;

namespace {

using Clock = std::chrono::steady_clock;

// Sets environment variables for one test and restores them after.
using EnvValues = std::map<std::string, std::optional<std::string>>;

class ScopedEnv {
 public:
  explicit ScopedEnv(const EnvValues& values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) value ? setenv(name.c_str(), value->c_str(), 1) : unsetenv(name.c_str());
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

const EnvValues kNoLauncherVariables = {
    {"MASTER_ADDR", std::nullopt}, {"MASTER_PORT", std::nullopt}, {"WORLD_SIZE", std::nullopt},
    {"RANK", std::nullopt}, {"LOCAL_RANK", std::nullopt}};

launch::Options shell(int processes, const std::string& script) {
  launch::Options o;
  o.program = "/bin/sh";
  o.args = {"-c", script, "sh"};
  o.processes = processes;
  o.placement = {"127.0.0.1", 29999, processes, 0, 0};
  o.output = launch::Output::Quiet;
  return o;
}


}  // namespace

TEST(LaunchPlacement, TakesTheTorchrunVariablesForWhatTheFlagsLeaveOpen) {
  ScopedEnv env(EnvValues{{"MASTER_ADDR", "10.1.2.3"}, {"MASTER_PORT", "1234"}, {"WORLD_SIZE", "4"}, {"RANK", "2"},
                          {"LOCAL_RANK", "1"}});
  launch::Placement p;
  EXPECT_EQ(launch::resolve_placement(p, 2), "");
  EXPECT_EQ(p.master_addr, "10.1.2.3");
  EXPECT_EQ(p.master_port, 1234);  // rank 0 is elsewhere: not checked here
  EXPECT_EQ(p.world_size, 4);
  EXPECT_EQ(p.first_rank, 2);
  EXPECT_EQ(p.first_local_device, 1);

  launch::Placement flags{"", 1234, 4, 0, -1};  // flags win over RANK=2
  EXPECT_EQ(launch::resolve_placement(flags, 1), "");
  EXPECT_EQ(flags.first_rank, 0);
}

TEST(LaunchPlacement, DefaultsAndErrorsNameTheVariable) {
  {
    ScopedEnv env(kNoLauncherVariables);
    launch::Placement p;
    EXPECT_EQ(launch::resolve_placement(p, 3), "");
    EXPECT_EQ(p.master_addr, "127.0.0.1");
    EXPECT_GT(p.master_port, 0);  // a free one, picked because rank 0 starts here
    EXPECT_EQ(p.world_size, 3);
    EXPECT_EQ(p.first_rank, 0);
  }
  {
    ScopedEnv env(EnvValues{{"MASTER_PORT", "29x"}});
    launch::Placement p;
    EXPECT_NE(launch::resolve_placement(p, 2).find("environment variable MASTER_PORT"), std::string::npos);
  }
  {
    ScopedEnv env(EnvValues{{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"MASTER_PORT", "1234"}});
    launch::Placement p;
    EXPECT_EQ(launch::resolve_placement(p, 2), "ranks 3..4 do not fit into a world of 4 (WORLD_SIZE / --world-size)");
  }
  {
    ScopedEnv env(EnvValues{{"WORLD_SIZE", "4"}, {"RANK", "2"}, {"MASTER_PORT", std::nullopt}});
    launch::Placement p;
    EXPECT_NE(launch::resolve_placement(p, 2).find("rank 0 starts elsewhere"), std::string::npos);
  }
}

TEST(LaunchPlacement, APortInUseWhereRankZeroWouldServeIsOneClearError) {
  ScopedEnv env(kNoLauncherVariables);
  scmoe::engine::testing::PortHolder busy;
  launch::Placement p{"127.0.0.1", busy.port(), 0, -1, -1};
  const std::string error = launch::resolve_placement(p, 2);
  EXPECT_NE(error.find("port " + std::to_string(busy.port()) + " is in use"), std::string::npos) << error;
  EXPECT_EQ(launch::check_port_free(launch::pick_free_port("127.0.0.1")), "");
}

TEST(LocalRanks, EveryRankGetsItsPlaceAndItsExitIsCollected) {
  // Rank 0 ends last, so rank 1 (exit 4) is the first failure and gives the launcher's code.
  launch::Options o = shell(2, "echo \"rank $RANK of $WORLD_SIZE at $MASTER_ADDR:$MASTER_PORT gpu $LOCAL_RANK "
                               "timeout $SCMOE_RANK_TIMEOUT_S\" >&2; [ $RANK = 0 ] && sleep 0.3; exit $((RANK + 3))");
  o.rank_timeout = std::chrono::milliseconds(2500);
  launch::LocalRanks ranks(o);
  EXPECT_EQ(ranks.rendezvous(), "127.0.0.1:29999");
  const auto exits = ranks.wait();
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].exit_code, 3);
  EXPECT_EQ(exits[1].exit_code, 4);
  EXPECT_EQ(exits[0].stderr_tail, "rank 0 of 2 at 127.0.0.1:29999 gpu 0 timeout 2.5\n");
  EXPECT_EQ(exits[1].stderr_tail, "rank 1 of 2 at 127.0.0.1:29999 gpu 1 timeout 2.5\n");
  EXPECT_EQ(launch::exit_code(exits), 4);
  const std::string text = launch::summary(exits);
  EXPECT_NE(text.find("2 ranks, failed:\n  rank 0: exited with 3\n  rank 1: exited with 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--- rank 1, last lines of stderr:\nrank 1 of 2"), std::string::npos) << text;
}

TEST(LocalRanks, AKilledRankIsReportedWithItsSignal) {
  launch::LocalRanks ranks(shell(2, "[ $RANK = 1 ] && kill -9 $$; exit 0"));
  const auto exits = ranks.wait();
  EXPECT_TRUE(exits[0].ok());
  EXPECT_EQ(exits[1].signal, SIGKILL);
  EXPECT_EQ(launch::exit_code(exits), 128 + SIGKILL);
  EXPECT_NE(launch::summary(exits).find("rank 1: killed by signal 9 (SIGKILL)"), std::string::npos);
  EXPECT_EQ(launch::summary({exits[0]}), "1 rank: all exited 0\n");
}

TEST(LocalRanks, RanksThatOutliveAFailureByTheTimeoutAreStopped) {
  launch::Options o = shell(2, "[ $RANK = 1 ] && exit 1; exec sleep 60");
  o.rank_timeout = std::chrono::milliseconds(100);
  const auto start = Clock::now();
  launch::LocalRanks ranks(o);
  const auto exits = ranks.wait();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(exits[1].exit_code, 1);
  EXPECT_EQ(exits[0].signal, SIGTERM);  // 0.1 s + the launcher's grace of 3 s, then SIGTERM
  EXPECT_TRUE(exits[0].stopped_by_launcher);
  EXPECT_GE(seconds, 3.0);
  EXPECT_LT(seconds, 10.0);
}

TEST(LocalRanks, ForwardsCtrlC) {
  launch::Options o = shell(2, "trap 'exit 42' INT; while :; do sleep 0.05; done");
  launch::LocalRanks ranks(o);
  const auto start = Clock::now();
  bool sent = false;
  const auto exits = ranks.wait([&] {
    if (sent || Clock::now() - start < std::chrono::milliseconds(300)) return 0;
    sent = true;
    return SIGINT;
  });
  EXPECT_EQ(exits[0].exit_code, 42);
  EXPECT_EQ(exits[1].exit_code, 42);
}

TEST(LocalRanks, ScmoeRunRanksGetTheirFlagsAndOnlyTheFirstKeepsTheOutputFiles) {
  launch::Options o = shell(2, "echo \"$*\" >&2");
  o.args.insert(o.args.end(), {"run", "--trace", "t.scmoe", "--report=r.html", "--iters", "3"});
  o.scmoe_run_flags = true;
  o.placement = {"10.0.0.1", 4000, 2, 0, 2};
  const auto exits = launch::LocalRanks(o).wait();
  EXPECT_EQ(exits[0].stderr_tail,
            "run --trace t.scmoe --report=r.html --iters 3 --world-size 2 --rank 0 --rendezvous 10.0.0.1:4000 "
            "--local-device 2 --ep-size 2\n");
  EXPECT_EQ(exits[1].stderr_tail,
            "run --iters 3 --world-size 2 --rank 1 --rendezvous 10.0.0.1:4000 --local-device 3 --ep-size 2\n");
}

TEST(LocalRanks, AllOutputPrefixesEveryLineWithItsRank) {
  launch::Options o = shell(1, "printf 'one\\ntwo'");
  o.output = launch::Output::All;
  testing::internal::CaptureStdout();
  const auto exits = launch::LocalRanks(o).wait();
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "[rank 0] one\n[rank 0] two\n");
  EXPECT_TRUE(exits[0].ok());
}

TEST(LocalRanks, AProgramThatCannotStartIsOneError) {
  launch::Options o = shell(2, "exit 0");
  o.program = "/nonexistent/scmoe";
  try {
    launch::LocalRanks ranks(o);
    FAIL() << "started a program that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot start /nonexistent/scmoe: No such file or directory");
  }
}
