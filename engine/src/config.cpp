#include "scmoe/engine/config.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <utility>

namespace scmoe::engine {

namespace {
template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Arch, 5> kArchNames = {{
    {Arch::Top2, "top2"}, {Arch::Top1, "top1"}, {Arch::Shared, "shared"}, {Arch::ScMoE, "scmoe"},
    {Arch::ScMoE2, "scmoe2"},
}};
constexpr NameTable<Schedule, 3> kScheduleNames = {{
    {Schedule::Sequential, "sequential"}, {Schedule::Overlap, "overlap"}, {Schedule::Adaptive, "adaptive"},
}};
constexpr NameTable<CombineMode, 3> kCombineNames = {{
    {CombineMode::DirectAdd, "direct"}, {CombineMode::CG1, "cg1"}, {CombineMode::CG2, "cg2"},
}};
constexpr NameTable<ShortcutNorm, 2> kNormNames = {{{ShortcutNorm::Reuse, "reuse"}, {ShortcutNorm::Dedicated, "dedicated"}}};
constexpr NameTable<DType, 2> kDTypeNames = {{{DType::F32, "fp32"}, {DType::BF16, "bf16"}}};
constexpr NameTable<DeviceType, 2> kDeviceNames = {{{DeviceType::Cpu, "cpu"}, {DeviceType::Cuda, "cuda"}}};

template <typename E, std::size_t N>
std::string_view name_of(const NameTable<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const NameTable<E, N>& table, std::string_view s) {
  for (const auto& [v, name] : table) {
    if (name == s) return v;
  }
  return std::nullopt;
}

struct ModelShape {
  std::string_view name;
  int hidden, heads, kv_heads, ffn, pairs, seq_len, tokens_per_rank, num_experts, ep_size;
  bool moe_every_block;
};
// scmoe-method.md §6. FFN = 4 x hidden (the paper does not give it); one expert per rank (ep = experts);
// one sequence per rank. `demo` is small enough for a few iterations per second on 2 CPU cores.
constexpr std::array<ModelShape, 5> kPresets = {{
    {"demo", 64, 4, 4, 256, 1, 32, 128, 8, 4, false},
    {"gpt2-moe-small", 768, 12, 12, 3072, 6, 1024, 1024, 8, 8, false},
    {"gpt2-moe-medium", 1024, 16, 16, 4096, 12, 2048, 2048, 8, 8, false},
    {"gpt3-moe-xl", 2048, 32, 32, 8192, 12, 2048, 2048, 8, 8, false},
    {"llama2-moe", 2048, 16, 4, 8192, 12, 2048, 2048, 8, 8, true},
}};

// Per-direction bandwidths a collective actually achieves (bus bandwidth, not the wire rate):
// - pcie4: PCIe 4.0 x16 is 32 GB/s raw per direction, ~25 GB/s measured by nccl-tests all-to-all between
//   GPUs on a PCIe switch (A30-PCIe machines of the paper).
// - nvlink4: H100/A800 NVLink is 200-450 GB/s per direction raw; NCCL all-to-all over 8 GPUs reaches about
//   150 GB/s bus bandwidth per GPU.
// - ib-200g: HDR InfiniBand 200 Gb/s = 25 GB/s raw, ~23 GB/s achieved by inter-node all-to-all.
// Latencies are the small-message all-to-all times nccl-tests reports on such systems (order of magnitude).
struct LinkPreset {
  std::string_view name;
  double bandwidth_gbps;
  double latency_us;
};
constexpr std::array<LinkPreset, 3> kLinkPresets = {{
    {"pcie4", 25.0, 20.0},
    {"nvlink4", 150.0, 10.0},
    {"ib-200g", 23.0, 25.0},
}};

double machine_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size) : 0.0;
}

std::string gib(double bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buffer;
}

void require_positive(std::vector<ConfigError>& errors, std::string_view field, long long value) {
  if (value <= 0) {
    errors.push_back({std::string(field), "must be > 0, got " + std::to_string(value)});
  }
}
// world_size > 1, CPU or GPU: one rank per process, meeting at the rendezvous; without one, rank 0's Runner
// starts the other ranks on this machine and picks the address.
void validate_processes(const EngineConfig& c, std::vector<ConfigError>& errors) {
  if (c.ep_size > 0 && c.ep_size != c.world_size) {
    errors.push_back({"ep_size", "with several processes every process is one rank: ep_size (" +
                                     std::to_string(c.ep_size) + ") must equal world_size (" +
                                     std::to_string(c.world_size) + ")"});
  }
  std::string host;
  int port = 0;
  if (c.rendezvous.empty() ? c.rank != 0 : !parse_rendezvous(c.rendezvous, host, port)) {
    errors.push_back({"rendezvous", "world_size > 1 needs the c10d TCPStore address as \"host:port\" (port "
                                    "1..65535; rank 0 serves it; rank 0 may leave it out to start the other ranks "
                                    "here), got \"" + c.rendezvous + "\""});
  }
}

// Where the ranks run on GPUs (config.h, "GPU runs"): one process with gpu_devices GPUs, or world_size
// processes with one GPU each.
void validate_gpu_layout(const EngineConfig& c, std::vector<ConfigError>& errors) {
  require_positive(errors, "gpu_devices", c.gpu_devices);
  require_positive(errors, "world_size", c.world_size);
  if (c.rank < 0 || (c.world_size > 0 && c.rank >= c.world_size)) {
    errors.push_back({"rank", "must be in 0..world_size-1 (world_size " + std::to_string(c.world_size) + "), got " +
                                  std::to_string(c.rank)});
  }
  if (c.local_device < 0) {
    errors.push_back({"local_device", "must be >= 0, got " + std::to_string(c.local_device)});
  }
  const bool multi_process = c.world_size > 1;
  if (c.device != DeviceType::Cuda) {
    // CPU ranks in several processes talk through Gloo (issue 15); local_device is a GPU's: ignored here.
    if (c.gpu_devices != 1) {
      errors.push_back({"device", "gpu_devices places ranks on GPUs, which need device = \"cuda\""});
    }
    if (multi_process) {
      validate_processes(c, errors);
    } else if (c.rank != 0 || !c.rendezvous.empty()) {
      errors.push_back({"world_size", "rank and rendezvous place the ranks of a multi-process run: they need "
                                      "world_size > 1, got world_size " + std::to_string(c.world_size)});
    }
    return;
  }
  if (!multi_process) {
    if (c.gpu_devices > 0 && c.ep_size > 0 && c.ep_size != c.gpu_devices) {
      errors.push_back({"ep_size", "on GPUs every rank needs its own GPU (NCCL refuses two ranks on one): ep_size (" +
                                       std::to_string(c.ep_size) + ") must equal gpu_devices (" +
                                       std::to_string(c.gpu_devices) +
                                       "); to emulate a larger group on one GPU use ep_size 1 with "
                                       "link.emulated_ranks"});
    }
    if (!c.rendezvous.empty()) {
      errors.push_back({"rendezvous", "only used when world_size > 1 (several processes), got \"" + c.rendezvous +
                                          "\" with world_size 1"});
    }
    if (c.local_device != 0) {
      errors.push_back({"local_device", "only used when world_size > 1; one process uses GPUs 0..gpu_devices-1, got " +
                                            std::to_string(c.local_device)});
    }
    return;
  }
  if (c.gpu_devices != 1) {
    errors.push_back({"gpu_devices", "with world_size > 1 every process drives one GPU (local_device): must be 1, "
                                     "got " + std::to_string(c.gpu_devices)});
  }
  validate_processes(c, errors);
}

}  // namespace

bool parse_rendezvous(std::string_view address, std::string& host, int& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view digits = address.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return false;
  int value = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + (ch - '0');
  }
  if (value < 1 || value > 65535) return false;
  host = std::string(address.substr(0, colon));
  port = value;
  return true;
}

int expert_slots(int shortcut_position) { return shortcut_position + 2; }

std::string_view to_string(Arch a) { return name_of(kArchNames, a); }
std::string_view to_string(Schedule s) { return name_of(kScheduleNames, s); }
std::string_view to_string(CombineMode m) { return name_of(kCombineNames, m); }
std::string_view to_string(ShortcutNorm n) { return name_of(kNormNames, n); }
std::string_view to_string(DType d) { return name_of(kDTypeNames, d); }
std::string_view to_string(DeviceType d) { return name_of(kDeviceNames, d); }
std::optional<Arch> parse_arch(std::string_view s) { return value_of(kArchNames, s); }
std::optional<Schedule> parse_schedule(std::string_view s) { return value_of(kScheduleNames, s); }
std::optional<CombineMode> parse_combine_mode(std::string_view s) { return value_of(kCombineNames, s); }
std::optional<ShortcutNorm> parse_shortcut_norm(std::string_view s) { return value_of(kNormNames, s); }
std::optional<DType> parse_dtype(std::string_view s) { return value_of(kDTypeNames, s); }
std::optional<DeviceType> parse_device(std::string_view s) { return value_of(kDeviceNames, s); }

std::vector<std::string_view> preset_names() {
  std::vector<std::string_view> names;
  for (const ModelShape& p : kPresets) names.push_back(p.name);
  return names;
}

bool apply_preset(std::string_view name, EngineConfig& config) {
  for (const ModelShape& p : kPresets) {
    if (p.name != name) continue;
    config.preset = std::string(p.name);
    config.hidden = p.hidden;
    config.heads = p.heads;
    config.kv_heads = p.kv_heads;
    config.ffn = p.ffn;
    config.pairs = p.pairs;
    config.seq_len = p.seq_len;
    config.tokens_per_rank = p.tokens_per_rank;
    config.num_experts = p.num_experts;
    config.ep_size = p.ep_size;
    config.moe_every_block = p.moe_every_block;
    if (p.moe_every_block) config.shortcut_position = 1;
    return true;
  }
  return false;
}

std::vector<std::string_view> link_preset_names() {
  std::vector<std::string_view> names;
  for (const LinkPreset& p : kLinkPresets) names.push_back(p.name);
  return names;
}

bool apply_link_preset(std::string_view name, LinkModel& link) {
  for (const LinkPreset& p : kLinkPresets) {
    if (p.name != name) continue;
    link.enabled = true;
    link.preset = std::string(p.name);
    link.bandwidth_gbps = p.bandwidth_gbps;
    link.latency_us = p.latency_us;
    return true;
  }
  return false;
}

double estimated_memory_bytes(const EngineConfig& c) {
  const double h = c.hidden, f = c.ffn, e = c.num_experts;
  const double head_dim = c.heads > 0 ? h / c.heads : 0.0;
  const double attention = 2 * h * h + 2 * h * head_dim * c.kv_heads;   // q, o, k, v projections
  const double mlp = 2 * h * f;
  const double moe_block = attention + e * mlp + mlp /*shared expert*/ + h * e /*gate*/;
  const double units = c.moe_every_block ? 2.0 * c.pairs : c.pairs;
  const double per_unit = c.moe_every_block ? moe_block : attention + mlp + moe_block;
  const double bytes_per_value = c.dtype == DType::BF16 ? 2.0 : 4.0;
  const double weights = units * per_unit * bytes_per_value;
  // Live activations of one rank: the residual stream and the tensors of one unit kept for the shortcut
  // (about 12 hidden-sized tensors), the FFN intermediate of the routed copies, and the attention scores.
  const double t = c.tokens_per_rank;
  const double sequences = c.seq_len > 0 ? t / c.seq_len : 0.0;
  const double activations = (12 * t * h + 2 * t * f + sequences * c.heads * double(c.seq_len) * c.seq_len) * 4.0;
  return weights + c.ep_size * activations;
}

std::vector<ConfigError> validate(const EngineConfig& c) {
  std::vector<ConfigError> errors;
  require_positive(errors, "hidden", c.hidden);
  require_positive(errors, "heads", c.heads);
  require_positive(errors, "kv_heads", c.kv_heads);
  require_positive(errors, "ffn", c.ffn);
  require_positive(errors, "pairs", c.pairs);
  require_positive(errors, "seq_len", c.seq_len);
  require_positive(errors, "tokens_per_rank", c.tokens_per_rank);
  require_positive(errors, "num_experts", c.num_experts);
  require_positive(errors, "ep_size", c.ep_size);
  require_positive(errors, "iterations", c.iterations);
  require_positive(errors, "pipeline_chunks", c.pipeline_chunks);
  if (c.warmup < 0) errors.push_back({"warmup", "must be >= 0, got " + std::to_string(c.warmup)});
  if (c.schedule == Schedule::Adaptive && c.warmup < 1) {
    errors.push_back({"warmup", "adaptive scheduling measures the operators over warm-up iterations: needs >= 1"});
  }
  if (!c.dropless && !(c.capacity_factor > 0.0)) {
    errors.push_back({"capacity_factor", "must be > 0 unless dropless, got " + std::to_string(c.capacity_factor)});
  }
  if (!(c.gate_noise >= 0.0)) errors.push_back({"gate_noise", "must be >= 0, got " + std::to_string(c.gate_noise)});
  if (!(c.aux_loss_coef >= 0.0)) {
    errors.push_back({"aux_loss_coef", "must be >= 0, got " + std::to_string(c.aux_loss_coef)});
  }
  if (c.shortcut_position < 1 || c.shortcut_position > 3) {
    errors.push_back({"shortcut_position", "must be 1, 2 or 3, got " + std::to_string(c.shortcut_position)});
  } else if (c.moe_every_block && c.shortcut_position != 1) {
    errors.push_back({"shortcut_position", "MoE in every block has no Block-MLP: only position 1 is possible, got " +
                                               std::to_string(c.shortcut_position)});
  } else if (c.arch == Arch::ScMoE || c.arch == Arch::ScMoE2) {
    const int slots = expert_slots(c.shortcut_position);
    if (c.expert_slot < 1 || c.expert_slot > slots) {
      errors.push_back({"expert_slot", "K must be in 1.." + std::to_string(slots) + " for shortcut position " +
                                           std::to_string(c.shortcut_position) + ", got " +
                                           std::to_string(c.expert_slot)});
    }
  }
  if (c.num_experts > 0 && c.ep_size > 0 && c.num_experts % c.ep_size != 0) {
    errors.push_back({"num_experts", "must be divisible by ep_size (" + std::to_string(c.ep_size) + "), got " +
                                         std::to_string(c.num_experts)});
  }
  if ((c.arch == Arch::Top2 || c.arch == Arch::ScMoE2 || c.ab_against_top2) && c.num_experts == 1) {
    errors.push_back({"num_experts", "top-2 routing needs at least 2 experts"});
  }
  if (c.tokens_per_rank > 0 && c.seq_len > 0 && c.tokens_per_rank % c.seq_len != 0) {
    errors.push_back({"tokens_per_rank", "must be a multiple of seq_len (" + std::to_string(c.seq_len) + "), got " +
                                             std::to_string(c.tokens_per_rank)});
  }
  if (c.heads > 0 && c.kv_heads > 0 && c.heads % c.kv_heads != 0) {
    errors.push_back({"kv_heads", "heads (" + std::to_string(c.heads) + ") must be divisible by kv_heads, got " +
                                      std::to_string(c.kv_heads)});
  }
  if (c.hidden > 0 && c.heads > 0 && c.hidden % c.heads != 0) {
    errors.push_back({"heads", "hidden (" + std::to_string(c.hidden) + ") must be divisible by heads, got " +
                                   std::to_string(c.heads)});
  }
  if (c.pipeline_chunks > 0 && c.tokens_per_rank > 0 && c.pipeline_chunks > c.tokens_per_rank) {
    errors.push_back({"pipeline_chunks", "cannot exceed tokens_per_rank (" + std::to_string(c.tokens_per_rank) +
                                             "), got " + std::to_string(c.pipeline_chunks)});
  }
  if (c.link.enabled) {
    if (!(c.link.bandwidth_gbps > 0.0)) {
      errors.push_back({"link.bandwidth_gbps", "must be > 0 when the emulated link is enabled, got " +
                                                   std::to_string(c.link.bandwidth_gbps)});
    }
    if (!(c.link.latency_us >= 0.0)) {
      errors.push_back({"link.latency_us", "must be >= 0, got " + std::to_string(c.link.latency_us)});
    }
  }
  if (c.link.emulated_ranks < 0 || (c.link.emulated_ranks > 1 && c.ep_size != 1)) {
    errors.push_back({"link.emulated_ranks", "playing one rank of a larger group needs ep_size = 1 and a group "
                                             "size >= 2 (0: off), got " + std::to_string(c.link.emulated_ranks) +
                                             " with ep_size " + std::to_string(c.ep_size)});
  }
  if (c.dtype == DType::BF16 && c.device == DeviceType::Cpu) {
    errors.push_back({"dtype", "bf16 runs on the GPU only (device = \"cuda\"); use fp32 on the CPU"});
  }
  validate_gpu_layout(c, errors);
  if (errors.empty()) {
    const double needed = estimated_memory_bytes(c);
    const double available = machine_memory_bytes();
    if (available > 0.0 && needed > available) {
      errors.push_back({"memory", "the model needs about " + gib(needed) + " (weights of all ranks + activations) "
                                  "but this machine has " + gib(available)});
    }
  }
  return errors;
}

}  // namespace scmoe::engine
