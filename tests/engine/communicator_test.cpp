// The shared-memory All-to-All(v) between rank threads, the emulated link's hold time, and the
// barrier's cancellation.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <chrono>
#include <thread>

#include "parallel/emulated_link.h"
#include "parallel/shared_memory_communicator.h"

namespace eng = scmoe::engine;

namespace {
using Clock = std::chrono::steady_clock;

// Row r of rank s holds the value 100 * s + r in every column.
at::Tensor rows_of(int rank, int n, int hidden) {
  return (at::arange(n, at::kFloat) + 100.0f * rank).unsqueeze(1).expand({n, hidden}).contiguous();
}
}  // namespace

TEST(Communicator, AllToAllVDeliversEachRanksBlocksInRankOrder) {
  eng::AbortSignal abort;
  eng::SharedMemoryGroup group(2, abort);
  // send_splits[src][dst]
  const std::vector<std::vector<std::int64_t>> splits = {{1, 3}, {5, 2}};
  std::vector<at::Tensor> received(2);
  std::vector<std::vector<std::int64_t>> counts(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      auto comm = group.communicator(r);
      counts[r] = comm->exchange_counts({10 * r + 0, 10 * r + 1});
      const std::vector<std::int64_t> recv = {splits[0][r], splits[1][r]};
      received[r] = comm->all_to_all(rows_of(r, 4 + 3 * r, 8), splits[r], recv);
    });
  }
  for (auto& t : ranks) t.join();
  EXPECT_EQ(counts[0], (std::vector<std::int64_t>{0, 10}));
  EXPECT_EQ(counts[1], (std::vector<std::int64_t>{1, 11}));
  // Rank 0 gets row 0 of rank 0, then rows 0..4 of rank 1; rank 1 gets rows 1..3 of rank 0, rows 5..6 of rank 1.
  const std::vector<float> want0 = {0, 100, 101, 102, 103, 104};
  const std::vector<float> want1 = {1, 2, 3, 105, 106};
  ASSERT_EQ(received[0].size(0), 6);
  ASSERT_EQ(received[1].size(0), 5);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(received[0][i][7].item<float>(), want0[i]);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(received[1][i][3].item<float>(), want1[i]);
}

TEST(Communicator, EmulatedLinkHoldsLatencyPlusTheBusierDirection) {
  eng::AbortSignal abort;
  eng::SharedMemoryGroup group(2, abort);
  eng::LinkModel link;
  link.enabled = true;
  link.bandwidth_gbps = 1e-5;  // 10 kB/s
  link.latency_us = 1000;
  const std::vector<std::vector<std::int64_t>> splits = {{1, 3}, {5, 2}};
  std::vector<double> held_ms(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      eng::EmulatedLinkCommunicator comm(group.communicator(r), link, abort);
      const auto start = Clock::now();
      comm.all_to_all(rows_of(r, 4 + 3 * r, 8), splits[r], {splits[0][r], splits[1][r]});
      held_ms[r] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    });
  }
  for (auto& t : ranks) t.join();
  // Both ranks: 3 rows one way, 5 the other -> 5 rows x 8 floats x 4 B = 160 B at 10 kB/s = 16 ms, + 1 ms.
  for (double ms : held_ms) {
    EXPECT_GE(ms, 17.0);
    EXPECT_LT(ms, 17.0 + 250.0);  // generous: the CI machine is shared
  }
}

TEST(Communicator, OneRankPlayingAGroupIsChargedTheRemoteShare) {
  eng::AbortSignal abort;
  eng::SharedMemoryGroup group(1, abort);
  eng::LinkModel link;
  link.enabled = true;
  link.bandwidth_gbps = 1e-5;
  link.latency_us = 0;
  link.emulated_ranks = 4;
  eng::EmulatedLinkCommunicator comm(group.communicator(0), link, abort);
  const auto start = Clock::now();
  const at::Tensor out = comm.all_to_all(rows_of(0, 8, 8), {8}, {8});
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  EXPECT_TRUE(at::equal(out, rows_of(0, 8, 8)));
  // 3/4 of 8 rows x 32 B = 192 B at 10 kB/s = 19.2 ms.
  EXPECT_GE(ms, 19.2);
  EXPECT_LT(ms, 19.2 + 250.0);
}

TEST(Communicator, BarrierWaitEndsWhenTheRunIsAborted) {
  eng::AbortSignal abort;
  eng::SharedMemoryGroup group(2, abort);
  auto lonely = group.communicator(0);  // rank 1 never arrives
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    abort.trigger();
  });
  const auto start = Clock::now();
  EXPECT_THROW(lonely->barrier(), eng::Cancelled);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 1.0);
  canceller.join();
}
