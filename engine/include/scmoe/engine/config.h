// Engine configuration: what model, which architecture and schedule, how many ranks, which link.
// Plain data (no LibTorch types) so the UI and the CLI can build and validate configs without LibTorch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scmoe::engine {

enum class Arch { Top2, Top1, Shared, ScMoE, ScMoE2 };
enum class Schedule { Sequential, Overlap, Adaptive };
enum class CombineMode { DirectAdd, CG1, CG2 };
enum class ShortcutNorm { Reuse, Dedicated };  // which LayerNorm feeds gate/experts on the shortcut
enum class DType { F32, BF16 };
enum class DeviceType { Cpu, Cuda };

struct LinkModel {
  bool enabled = false;
  double bandwidth_gbps = 0.0;  // GB/s per direction
  double latency_us = 0.0;
  std::string preset;           // "pcie4", "nvlink4", "ib-200g" or empty for custom
  // > 1 with ep_size = 1: the single rank plays one rank of a group of this size (the others by symmetry),
  // so its exchanges are charged the (n-1)/n of the rows that would cross the link.
  int emulated_ranks = 0;
};

struct EngineConfig {
  // Model shape (defaults: the "demo" preset).
  std::string preset = "demo";
  int hidden = 64;
  int heads = 4;
  int kv_heads = 4;            // grouped-query attention when < heads
  int ffn = 256;               // MLP / expert hidden size
  int pairs = 1;               // Block-MLP + Block-MoE pairs
  bool moe_every_block = false;
  int seq_len = 32;
  int tokens_per_rank = 128;   // multiple of seq_len
  // Mixture of experts.
  Arch arch = Arch::ScMoE;
  int shortcut_position = 2;   // 1 output, 2 intermediate, 3 input
  CombineMode combine = CombineMode::CG1;
  ShortcutNorm shortcut_norm = ShortcutNorm::Reuse;
  bool post_sum_norm = false;
  int num_experts = 8;
  int ep_size = 4;             // expert-parallel ranks
  double capacity_factor = 2.0;
  bool dropless = false;
  double gate_noise = 0.0;
  double aux_loss_coef = 0.01;
  // Schedule.
  Schedule schedule = Schedule::Adaptive;
  int expert_slot = 2;         // K for Schedule::Overlap, 1..slots(position)
  int pipeline_chunks = 1;     // > 1: Tutel-style chunked expert pipeline
  // Run.
  DType dtype = DType::F32;
  DeviceType device = DeviceType::Cpu;
  // GPU runs (device = cuda). One process drives `gpu_devices` local GPUs, one rank each (GPUs
  // 0..gpu_devices-1; NCCL refuses two ranks on one GPU). Several processes (or nodes) form one EP group
  // of `world_size` ranks, one GPU each (`local_device`), meeting at the c10d TCPStore `rendezvous`
  // ("host:port", served by rank 0). So ep_size = world_size x gpu_devices, with gpu_devices = 1 when
  // world_size > 1. A bigger group on one GPU: ep_size 1 with link.emulated_ranks.
  // CPU runs with world_size > 1 are one rank per process as well (ep_size = world_size), talking through
  // c10d's Gloo at the same rendezvous (local_device is ignored). Without a rendezvous, rank 0's Runner
  // starts the other ranks on this machine itself (`scmoe launch` starts them all; see README.md).
  int gpu_devices = 1;
  int world_size = 1;
  int rank = 0;                // this process's rank, < world_size
  std::string rendezvous;      // "host:port", required when world_size > 1
  int local_device = 0;        // this process's GPU when world_size > 1 (usually the node-local rank)
  bool cupti_capture = true;   // capture every GPU run with CUPTI (off: measure the capture's overhead)
  LinkModel link;
  int iterations = 20;
  int warmup = 3;
  bool ab_against_top2 = false;
  std::uint64_t seed = 1234;
};

struct ConfigError {
  std::string field;    // e.g. "num_experts"
  std::string message;  // the rule that was broken, with the offending value
};

// Number of compute slots the expert computation can take for a shortcut position (pos 1: 3, 2: 4, 3: 5).
int expert_slots(int shortcut_position);

// Every rule a config must satisfy; empty when the config can run.
std::vector<ConfigError> validate(const EngineConfig& config);

// Names as used in files and on the command line.
std::string_view to_string(Arch a);
std::string_view to_string(Schedule s);
std::optional<Arch> parse_arch(std::string_view s);
std::optional<Schedule> parse_schedule(std::string_view s);
std::string_view to_string(CombineMode m);      // "direct", "cg1", "cg2"
std::string_view to_string(ShortcutNorm n);     // "reuse", "dedicated"
std::string_view to_string(DType d);            // "fp32", "bf16"
std::string_view to_string(DeviceType d);       // "cpu", "cuda"
std::optional<CombineMode> parse_combine_mode(std::string_view s);
std::optional<ShortcutNorm> parse_shortcut_norm(std::string_view s);
std::optional<DType> parse_dtype(std::string_view s);
std::optional<DeviceType> parse_device(std::string_view s);

// Model presets: "demo", "gpt2-moe-small", "gpt2-moe-medium", "gpt3-moe-xl", "llama2-moe" (shapes from
// scmoe-method.md §6). apply_preset overwrites the shape fields (and `preset`) and keeps everything else.
std::vector<std::string_view> preset_names();
bool apply_preset(std::string_view name, EngineConfig& config);

// Emulated link presets: "pcie4", "nvlink4", "ib-200g". Sets bandwidth/latency/preset and enables it.
std::vector<std::string_view> link_preset_names();
bool apply_link_preset(std::string_view name, LinkModel& link);

// Splits a rendezvous address "host:port" (port 1..65535); false when it is not of that form.
bool parse_rendezvous(std::string_view address, std::string& host, int& port);

// Weights of every rank plus the live activations of one forward pass, all ranks together (the CPU
// engine holds every rank in one process). validate() compares it with the machine's memory.
double estimated_memory_bytes(const EngineConfig& config);

}  // namespace scmoe::engine
