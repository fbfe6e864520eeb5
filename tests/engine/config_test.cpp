// Config parsing (TOML, JSON, flags), presets and every validation rule, with the documented messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "scmoe/engine/config.h"
#include "scmoe/engine/config_io.h"

namespace eng = scmoe::engine;

namespace {

bool has_error(const std::vector<eng::ConfigError>& errors, const std::string& field, const std::string& fragment) {
  return std::any_of(errors.begin(), errors.end(), [&](const eng::ConfigError& e) {
    return e.field == field && e.message.find(fragment) != std::string::npos;
  });
}

eng::EngineConfig valid() {
  eng::EngineConfig c;
  eng::apply_preset("demo", c);
  return c;
}

}  // namespace

TEST(Config, DefaultAndPresetsAreValid) {
  EXPECT_TRUE(eng::validate(eng::EngineConfig{}).empty());
  eng::EngineConfig demo;
  eng::apply_preset("demo", demo);
  EXPECT_EQ(eng::config_to_json(demo), eng::config_to_json(eng::EngineConfig{}));  // the default is the demo
  for (auto name : {"demo", "gpt2-moe-small", "gpt2-moe-medium", "llama2-moe"}) {
    eng::EngineConfig c;
    ASSERT_TRUE(eng::apply_preset(name, c));
    // The big presets may not fit this machine's memory; every other rule must hold.
    for (const auto& e : eng::validate(c)) EXPECT_EQ(e.field, "memory") << name << ": " << e.message;
  }
  eng::EngineConfig llama;
  eng::apply_preset("llama2-moe", llama);
  EXPECT_TRUE(llama.moe_every_block);
  EXPECT_EQ(llama.shortcut_position, 1);
  EXPECT_EQ(llama.kv_heads, 4);
  EXPECT_EQ(llama.hidden, 2048);
  EXPECT_FALSE(eng::apply_preset("gpt5", llama));
}

TEST(Config, EachRuleNamesItsField) {
  auto c = valid();
  c.num_experts = 6;
  c.ep_size = 4;
  EXPECT_TRUE(has_error(eng::validate(c), "num_experts", "divisible by ep_size (4)"));
  c = valid();
  c.moe_every_block = true;
  c.shortcut_position = 2;
  EXPECT_TRUE(has_error(eng::validate(c), "shortcut_position", "only position 1"));
  c = valid();
  c.shortcut_position = 2;
  c.expert_slot = 5;
  EXPECT_TRUE(has_error(eng::validate(c), "expert_slot", "1..4"));
  c.shortcut_position = 3;
  EXPECT_TRUE(eng::validate(c).empty());  // pos 3 has 5 slots
  c.expert_slot = 0;
  EXPECT_TRUE(has_error(eng::validate(c), "expert_slot", "1..5"));
  c = valid();
  c.hidden = 0;
  EXPECT_TRUE(has_error(eng::validate(c), "hidden", "must be > 0"));
  c = valid();
  c.tokens_per_rank = -3;
  EXPECT_TRUE(has_error(eng::validate(c), "tokens_per_rank", "must be > 0, got -3"));
  c = valid();
  c.tokens_per_rank = c.seq_len * 2 + 1;
  EXPECT_TRUE(has_error(eng::validate(c), "tokens_per_rank", "multiple of seq_len"));
  c = valid();
  c.heads = 4;
  c.kv_heads = 3;
  EXPECT_TRUE(has_error(eng::validate(c), "kv_heads", "divisible by kv_heads"));
  c = valid();
  c.heads = 5;
  c.kv_heads = 5;
  EXPECT_TRUE(has_error(eng::validate(c), "heads", "hidden (64) must be divisible by heads"));
  c = valid();
  c.link.enabled = true;
  c.link.bandwidth_gbps = 0.0;
  EXPECT_TRUE(has_error(eng::validate(c), "link.bandwidth_gbps", "must be > 0"));
  c = valid();
  c.dtype = eng::DType::BF16;
  EXPECT_TRUE(has_error(eng::validate(c), "dtype", "GPU only"));
}

TEST(Config, MemoryThatCannotFitIsRejected) {
  auto c = valid();
  c.hidden = 65536;
  c.heads = 64;
  c.kv_heads = 64;
  c.ffn = 262144;
  c.num_experts = 64;
  c.pairs = 64;
  const auto errors = eng::validate(c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "memory");
  EXPECT_NE(errors[0].message.find("GiB"), std::string::npos);
  // Weights alone: 64 units x (attention 4h^2 x2 + MLP + 65 expert-sized MLPs) x 4 bytes.
  const double h = 65536, f = 262144;
  const double weights = 64 * (4 * h * h + 2 * h * f + 4 * h * h + 64 * 2 * h * f + 2 * h * f + h * 64) * 4;
  EXPECT_GE(eng::estimated_memory_bytes(c), weights);
}

TEST(Config, TomlFileAppliesPresetFirstAndReportsUnknownKeysWithTheirLine) {
  eng::EngineConfig c;
  const auto ok = eng::parse_config_toml("hidden = 64\npreset = \"gpt2-moe-small\"\narch = \"top1\"\n"
                                         "[link]\npreset = \"nvlink4\"\n", c);
  ASSERT_TRUE(ok.empty()) << ok[0].message;
  EXPECT_EQ(c.hidden, 64);   // written before the preset in the file, still wins over it
  EXPECT_EQ(c.heads, 12);    // from the preset
  EXPECT_EQ(c.arch, eng::Arch::Top1);
  EXPECT_TRUE(c.link.enabled);
  EXPECT_DOUBLE_EQ(c.link.bandwidth_gbps, 150.0);

  eng::EngineConfig d;
  const auto errors = eng::parse_config_toml("hidden = 64\n\nhiden = 3\narch = \"top3\"\nep_size = \"four\"\n", d);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_TRUE(has_error(errors, "hiden", "unknown key (line 3)"));
  EXPECT_TRUE(has_error(errors, "arch", "expected one of top2, top1, shared, scmoe, scmoe2, got string \"top3\" (line 4)"));
  EXPECT_TRUE(has_error(errors, "ep_size", "expected an integer"));
  EXPECT_EQ(d.hidden, eng::EngineConfig{}.hidden);  // unchanged on error
  EXPECT_TRUE(has_error(eng::parse_config_toml("hidden = [", d), "file", "line 1"));
}

TEST(Config, JsonRoundTripsAndReportsSyntaxErrorsByByte) {
  eng::EngineConfig c = valid();
  c.arch = eng::Arch::ScMoE2;
  c.combine = eng::CombineMode::CG2;
  c.capacity_factor = 1.25;
  c.link.enabled = true;
  c.link.bandwidth_gbps = 0.5;
  c.link.latency_us = 7;
  eng::EngineConfig back;
  const auto errors = eng::parse_config_json(eng::config_to_json(c), back);
  ASSERT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].message;
  EXPECT_EQ(eng::config_to_json(back), eng::config_to_json(c));
  EXPECT_EQ(back.arch, eng::Arch::ScMoE2);
  EXPECT_DOUBLE_EQ(back.link.bandwidth_gbps, 0.5);
  EXPECT_TRUE(has_error(eng::parse_config_json("{\"hidden\": 12,, }", back), "file", "byte offset 14"));
  EXPECT_TRUE(has_error(eng::parse_config_json("{\"link\": {\"speed\": 1}}", back), "link.speed", "unknown key"));
}

TEST(Config, FlagsParseByKeyType) {
  eng::EngineConfig c;
  EXPECT_TRUE(eng::set_config_value(c, "ep_size", "2").empty());
  EXPECT_EQ(c.ep_size, 2);
  EXPECT_TRUE(eng::set_config_value(c, "capacity_factor", "1.5").empty());
  EXPECT_DOUBLE_EQ(c.capacity_factor, 1.5);
  EXPECT_TRUE(eng::set_config_value(c, "dropless", "true").empty());
  EXPECT_TRUE(c.dropless);
  EXPECT_TRUE(eng::set_config_value(c, "schedule", "overlap").empty());
  EXPECT_EQ(c.schedule, eng::Schedule::Overlap);
  EXPECT_TRUE(has_error(eng::set_config_value(c, "ep_size", "2x"), "ep_size", "expected an integer, got string \"2x\""));
  EXPECT_TRUE(has_error(eng::set_config_value(c, "nope", "1"), "nope", "unknown key"));
}

TEST(Config, LoadsTheShippedDemoConfig) {
  eng::EngineConfig c;
  const auto errors = eng::load_config_file(std::string(SCMOE_SOURCE_DIR) + "/resources/configs/demo.toml", c);
  ASSERT_TRUE(errors.empty()) << errors[0].message;
  EXPECT_TRUE(eng::validate(c).empty());
  EXPECT_EQ(c.preset, "demo");
  EXPECT_TRUE(c.link.enabled);
  EXPECT_TRUE(has_error(eng::load_config_file("/nonexistent/x.toml", c), "file", "cannot open"));
}

TEST(Config, GpuLayoutRules) {
  auto gpu = [] {
    auto c = valid();
    c.device = eng::DeviceType::Cuda;
    c.dtype = eng::DType::BF16;
    c.ep_size = 1;
    return c;
  };
  EXPECT_TRUE(eng::validate(gpu()).empty());
  EXPECT_TRUE(gpu().cupti_capture);  // every GPU run is captured unless switched off

  // One process: one rank per local GPU.
  auto c = gpu();
  c.ep_size = 4;
  EXPECT_TRUE(has_error(eng::validate(c), "ep_size", "ep_size (4) must equal gpu_devices (1)"));
  c.gpu_devices = 4;
  EXPECT_TRUE(eng::validate(c).empty());
  c.gpu_devices = 0;
  EXPECT_TRUE(has_error(eng::validate(c), "gpu_devices", "must be > 0"));
  c = gpu();
  c.link = {};
  eng::apply_link_preset("pcie4", c.link);
  c.link.emulated_ranks = 8;  // one GPU playing rank 0 of eight
  EXPECT_TRUE(eng::validate(c).empty());
  c = gpu();
  c.rendezvous = "localhost:29500";
  EXPECT_TRUE(has_error(eng::validate(c), "rendezvous", "only used when world_size > 1"));
  c = gpu();
  c.local_device = 1;
  EXPECT_TRUE(has_error(eng::validate(c), "local_device", "only used when world_size > 1"));

  // Several processes: one GPU and one rank each, meeting at a rendezvous.
  c = gpu();
  c.world_size = 2;
  c.ep_size = 2;
  c.rank = 1;
  c.local_device = 1;
  c.rendezvous = "node0:29500";
  EXPECT_TRUE(eng::validate(c).empty());
  c.rank = 2;
  EXPECT_TRUE(has_error(eng::validate(c), "rank", "0..world_size-1 (world_size 2), got 2"));
  c.rank = -1;
  EXPECT_TRUE(has_error(eng::validate(c), "rank", "got -1"));
  c.rank = 0;
  c.ep_size = 4;
  EXPECT_TRUE(has_error(eng::validate(c), "ep_size", "ep_size (4) must equal world_size (2)"));
  c.ep_size = 2;
  c.gpu_devices = 2;
  EXPECT_TRUE(has_error(eng::validate(c), "gpu_devices", "must be 1"));
  c.gpu_devices = 1;
  for (const char* bad : {"node0", "node0:", ":29500", "node0:0", "node0:65536", "node0:29x"}) {
    c.rendezvous = bad;
    EXPECT_TRUE(has_error(eng::validate(c), "rendezvous", "host:port")) << bad;
  }
  c.rendezvous = "[::1]:29500";
  EXPECT_TRUE(eng::validate(c).empty());
  c.world_size = 0;
  EXPECT_TRUE(has_error(eng::validate(c), "world_size", "must be > 0"));

  // On the CPU the GPU placement fields have no meaning (several CPU processes: multiprocess_config_test).
  c = valid();
  c.gpu_devices = 2;
  EXPECT_TRUE(has_error(eng::validate(c), "device", "need device = \"cuda\""));
}

TEST(Config, GpuKeysParseFromFilesAndFlags) {
  eng::EngineConfig c;
  const auto errors = eng::parse_config_toml("device = \"cuda\"\ndtype = \"bf16\"\nep_size = 2\nworld_size = 2\n"
                                             "rank = 1\nlocal_device = 1\nrendezvous = \"10.0.0.1:29500\"\n"
                                             "cupti_capture = false\n", c);
  ASSERT_TRUE(errors.empty()) << errors[0].field << ": " << errors[0].message;
  EXPECT_EQ(c.world_size, 2);
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.local_device, 1);
  EXPECT_EQ(c.rendezvous, "10.0.0.1:29500");
  EXPECT_FALSE(c.cupti_capture);
  EXPECT_TRUE(eng::validate(c).empty());
  eng::EngineConfig back;
  ASSERT_TRUE(eng::parse_config_json(eng::config_to_json(c), back).empty());
  EXPECT_EQ(eng::config_to_json(back), eng::config_to_json(c));

  EXPECT_TRUE(eng::set_config_value(c, "gpu_devices", "4").empty());
  EXPECT_EQ(c.gpu_devices, 4);
  EXPECT_TRUE(eng::set_config_value(c, "cupti_capture", "true").empty());
  EXPECT_TRUE(c.cupti_capture);
  EXPECT_TRUE(has_error(eng::parse_config_toml("rendezvous = 29500\n", c), "rendezvous", "host:port"));

  std::string host;
  int port = 0;
  ASSERT_TRUE(eng::parse_rendezvous("node-7.cluster:1234", host, port));
  EXPECT_EQ(host, "node-7.cluster");
  EXPECT_EQ(port, 1234);
}
