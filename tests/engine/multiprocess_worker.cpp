// One rank of a multi-process run for the multiprocess tests, started by the launcher (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT): the tests' tiny config with the given keys on top, through the real
// ForwardExecutor over Gloo. It writes the final activations of each forward pass as raw bytes
// (<out>/<arch>-<iteration>-rank<r>.bin) and rank 0 the merged trace of the last (<out>/trace.scmoe), for
// the test to compare bit for bit with the in-process run.
//   scmoe_multiprocess_worker OUT_DIR [key=value ...] [stall_ms=N]
// stall_ms: rank 1 sleeps that long before its second pass (busy between collectives, heartbeats going).
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "multiprocess_test_support.h"
#include "scmoe/engine/config_io.h"
#include "scmoe/profiler/formats/native.h"

namespace eng = scmoe::engine;

namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) throw std::runtime_error(std::string(name) + " is not set (start me with the launcher)");
  return std::stoi(v);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: scmoe_multiprocess_worker OUT_DIR [key=value ...]\n";
    return 2;
  }
  const std::string out = argv[1];
  int rank = -1;
  try {
    eng::EngineConfig c = eng::testing::multiprocess_config(env_int("WORLD_SIZE"));
    int stall_ms = 0;
    for (int i = 2; i < argc; ++i) {
      const std::string kv = argv[i];
      const auto eq = kv.find('=');
      if (kv.substr(0, eq) == "stall_ms") {
        stall_ms = std::stoi(kv.substr(eq + 1));
        continue;
      }
      if (auto errors = eng::set_config_value(c, kv.substr(0, eq), kv.substr(eq + 1)); !errors.empty()) {
        throw std::runtime_error(errors[0].field + ": " + errors[0].message);
      }
    }
    rank = env_int("RANK");
    c.rank = rank;
    c.rendezvous = std::string(std::getenv("MASTER_ADDR")) + ":" + std::getenv("MASTER_PORT");
    if (auto errors = eng::validate(c); !errors.empty()) throw std::runtime_error(errors[0].field + ": " + errors[0].message);
    at::set_num_threads(1);
    const eng::ModelWeights weights = eng::make_weights(c);
    eng::AbortSignal abort;
    eng::ForwardExecutor executor(c, weights, abort);
    eng::ForwardResult last;
    const std::vector<eng::testing::Pass> passes = eng::testing::multiprocess_passes();
    for (const eng::testing::Pass& run : passes) {
      if (rank == 1 && stall_ms > 0 && &run == &passes[1]) {
        std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms));
      }
      last = executor.run(run.arch, eng::testing::plan_of(c, run), run.iteration, eng::make_rank_inputs(c, run.iteration));
      const at::Tensor& y = last.outputs.at(0);
      std::ofstream file(out + "/" + eng::testing::output_name(run, rank), std::ios::binary);
      file.write(static_cast<const char*>(y.data_ptr()), static_cast<std::streamsize>(y.nbytes()));
    }
    if (rank == 0) {
      if (std::string error = scmoe::prof::formats::save_native(last.trace, out + "/trace.scmoe"); !error.empty()) {
        throw std::runtime_error(error);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "worker rank " << rank << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
