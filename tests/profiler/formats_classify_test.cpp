#include "scmoe/profiler/classify.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include "formats_test_util.h"

namespace scmoe::prof {
namespace {

std::optional<Category> classify(const ClassificationRules& rules, std::string_view name, bool on_device = true,
                                 std::vector<Arg> args = {}, StringTable* strings = nullptr) {
  StringTable local;
  StringTable& table = strings ? *strings : local;
  return rules.classify(name, args, table, on_device);
}

TEST(ClassificationRules, NcclFamilySurvivesRenames) {
  const ClassificationRules rules;
  for (const char* name : {
           "ncclAllReduceRingLLKernel_sum_f32(CollectiveArgs)",                              // NCCL <= 2.7
           "ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)", // <= 2.18
           "void ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)",
           "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)",                       // 2.19+
           "ncclSymkDevKernel_AllReduce_RSxLD_sum_f32(ncclSymkDevWorkArgs4K)",               // 2.27+ symmetric
           "ncclDevKernelDebug_Generic(ncclDevComm*, channelMasks, ncclWork*)",              // RCCL
           "ncclDeviceKernel_AllToAll_Sum_bf16(ncclDeviceArgs)",                             // a next rename
           "ncclx::kernels::ncclKernelAllGatherCtranDirect(int*)",                           // NCCLX
       }) {
    EXPECT_EQ(classify(rules, name), Category::OtherComm) << name;
  }
  EXPECT_EQ(classify(rules, "(anonymous namespace)::oneRankReduce<FuncSum<float>>(void*, void*, unsigned long)"),
            Category::OtherComm);
  EXPECT_FALSE(classify(rules, "void cutlass::Kernel<cutlass_80_tensorop_s1688gemm>(Params)"));
  EXPECT_FALSE(classify(rules, "nccltest_gemm_kernel"));
  // A host op with an NCCL-like name is not device communication.
  EXPECT_FALSE(classify(rules, "ncclKernel_AllReduce", /*on_device=*/false));
}

TEST(ClassificationRules, DeepEpAndItsForksInAnyNamespace) {
  const ClassificationRules rules;
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*)"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "void deep_ep::internode_ll::combine<false>(void*)"), Category::Combine);
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::notify_dispatch(int const*)"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::cached_notify_combine(void**)"), Category::Combine);
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::barrier<8>(int**, int)"), Category::OtherComm);
  EXPECT_EQ(classify(rules, "void deep_ep::internode::cached_notify(int, int)"), Category::OtherComm);
  EXPECT_EQ(classify(rules, "void deep_ep::internode_ll::clean_low_latency_buffer<32>(int*, int)"), Category::OtherComm);
  // DeepEP v2 (JIT kernels of namespace elastic), and the legacy namespace around v1's.
  EXPECT_EQ(classify(rules, "void deep_ep::elastic::dispatch_impl<true, 8, 24>(void*, void*)"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "void deep_ep::elastic::hybrid_combine_impl<4, 8>(__nv_bfloat16*)"), Category::Combine);
  EXPECT_EQ(classify(rules, "void deep_ep::legacy::internode::dispatch<false, 8>(int4*)"), Category::Dispatch);
  // Forks under another namespace, and the fork of the issue (its own top-level namespace).
  EXPECT_EQ(classify(rules, "void uccl::ep::internode_ll::dispatch<true>(void*)"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "void primus_turbo::deepep::intranode::combine<__nv_bfloat16, 8, 768>(void*)"),
            Category::Combine);
  EXPECT_EQ(classify(rules, "void mori_ep::internode::notify_dispatch(int const*)"), Category::Dispatch);
  // The layout kernel computes locally: a rule says so explicitly (category other), not a transfer.
  EXPECT_EQ(classify(rules, "void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*, int*)"),
            Category::Other);
  EXPECT_EQ(classify(rules, "void deep_ep::internode::get_dispatch_layout<256, 32, 8>(long const*)"), Category::Other);
}

TEST(ClassificationRules, OtherEpLibraryFamilies) {
  const ClassificationRules rules;
  const std::vector<std::pair<const char*, Category>> cases = {
      // pplx-kernels
      {"void (anonymous namespace)::dispatchKernel<4ul, true, false>(int*, unsigned long)", Category::Dispatch},
      {"void combineKernel<__nv_bfloat16, __nv_bfloat16, 16ul, true, true>(__nv_bfloat16*)", Category::Combine},
      // Hybrid-EP
      {"void hybrid_ep::dispatch_kernel<__nv_bfloat16, 16>(hybrid_ep::dispatch_kernel_param_t<__nv_bfloat16>)",
       Category::Dispatch},
      {"void hybrid_ep::combine_kernel<16, true>(hybrid_ep::combine_kernel_param_t)", Category::Combine},
      {"hybrid_ep::device_sync_kernel(unsigned int*, unsigned int const*)", Category::OtherComm},
      // NVSHMEM on-stream collectives
      {"void alltoall_on_stream_kernel<float>(int, float*, float const*, unsigned long)", Category::OtherComm},
      {"alltoall32_on_stream_kernel(void*, void const*, unsigned long)", Category::OtherComm},
      {"sync_all_on_stream_kernel()", Category::OtherComm},
      // MSCCL++ and the MSCCL kernels of RCCL
      {"void mscclpp::executionKernel<__half, mscclpp::LL16Packet, false>(int, __half*)", Category::OtherComm},
      {"void mscclpp::collective::allreduceAllPairs<(mscclpp::ReduceOp)0, float, float>(float*)",
       Category::OtherComm},
      {"mscclKernel_Sum_half_LL_0(ncclDevComm*, mscclAlgo*, mscclWork*)", Category::OtherComm},
      // UCC
      {"executor_kernel(ucc_ec_cuda_executor*, int)", Category::OtherComm},
      {"kernel_copy_multi(ucc_eee_task_copy_multi)", Category::OtherComm},
      {"UCC_REDUCE_CUDA_DEFAULT_SUM(ucc_eee_task_reduce, bool)", Category::OtherComm},
      // Triton-distributed (Triton JIT names)
      {"kernel_dispatch_token_intra_node", Category::Dispatch},
      {"tile_kernel_dispatch_token_intra_node_two_stage", Category::Dispatch},
      {"kernel_combine_token", Category::Combine},
      {"combine_kernel_v2", Category::Combine},
      {"all_to_all_kernel", Category::OtherComm},
      {"mega_kernel_dispatch_token_moe_grouped_gemm", Category::Other},  // fused with the GEMM: computation
      // The engine's emulated link: communication (its phase comes from the NVTX range around its launch)
      {"scmoe::engine::cuda::(anonymous namespace)::delay_kernel(unsigned long long)", Category::OtherComm},
      {"_ZN5scmoe6engine4cuda12_GLOBAL__N_112delay_kernelEy", Category::OtherComm},  // left mangled
  };
  for (const auto& [name, category] : cases) EXPECT_EQ(classify(rules, name), category) << name;
  EXPECT_FALSE(classify(rules, "void at::native::elementwise_kernel<128, 4>(int, float*)"));
  EXPECT_FALSE(classify(rules, "void my_dispatch_kernel(int*)")) << "a name that merely contains dispatch";
}

TEST(ClassificationRules, PytorchC10dOpsAreHostCommunication) {
  const ClassificationRules rules;
  for (const char* name : {"record_param_comms", "c10d::allreduce_", "c10d::alltoall_base_", "nccl:all_to_all",
                           "_c10d_functional::all_to_all_single", "all_to_all_single", "gloo:all_reduce"}) {
    EXPECT_EQ(classify(rules, name, /*on_device=*/false), Category::OtherComm) << name;
  }
  EXPECT_FALSE(classify(rules, "aten::mm", false));
}

TEST(ClassificationRules, CollectiveNameArgMarksKernelsAsCommunication) {
  const ClassificationRules rules;
  StringTable strings;
  const std::vector<Arg> args{{strings.intern("Collective name"), "all_to_all"}};
  EXPECT_EQ(classify(rules, "some_custom_a2a_kernel", true, args, &strings), Category::OtherComm);
  EXPECT_FALSE(classify(rules, "some_custom_a2a_kernel", true, {}, &strings));
}

TEST(ClassificationRules, EngineNamesNameTheirCategory) {
  const ClassificationRules rules;
  EXPECT_EQ(classify(rules, "dispatch", false), Category::Dispatch);
  EXPECT_EQ(classify(rules, "scmoe:combine_chunk1", false), Category::Combine);
  EXPECT_EQ(classify(rules, "shared_expert"), Category::SharedExpert);
  EXPECT_EQ(classify(rules, "expert:3", false), Category::Expert);
  EXPECT_EQ(classify(rules, "attention"), Category::Attention);
  EXPECT_FALSE(classify(rules, "dispatcher_setup", false));
  EXPECT_FALSE(classify(rules, "multi_attention_head"));
  // Communication names are for host ranges: a GPU kernel that happens to be called so is not a transfer.
  EXPECT_FALSE(classify(rules, "dispatch_layout", /*on_device=*/true));
}

TEST(ClassificationRules, FirstMatchingRuleWins) {
  ClassificationRules rules;
  ASSERT_EQ(rules.set_rules({{"^nccl", "", "", RuleScope::Any, Category::Dispatch, ""},
                             {"^nccl", "", "", RuleScope::Any, Category::Combine, ""}}),
            "");
  EXPECT_EQ(classify(rules, "ncclKernel_x"), Category::Dispatch);
}

// The two reproducers of issue 11: std::regex recursed per character (SIGSEGV on a 50,000-letter name) and
// backtracked exponentially on (a*)*b. RE2 is linear in the text, and the text is bounded.
TEST(ClassificationRules, LongNamesAndPathologicalRulesAreLinear) {
  const ClassificationRules rules;
  EXPECT_FALSE(classify(rules, "nccl" + std::string(50000, 'a')));
  EXPECT_EQ(classify(rules, "ncclKernel_" + std::string(50000, 'a')), Category::OtherComm);

  ClassificationRules user;
  ASSERT_EQ(user.set_rules({{"(a*)*b", "", "", RuleScope::Any, Category::Dispatch, ""}}), "");
  const std::string name(30, 'a');
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(classify(user, name));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // std::regex needed about 2^30 steps for one call; RE2 takes microseconds. 2 s leaves room for a loaded CI.
  EXPECT_LT(seconds, 2.0);
  EXPECT_EQ(classify(user, name + "b"), Category::Dispatch);
}

TEST(ClassificationRules, NamesAreMatchedOnTheirFirstBytes) {
  ClassificationRules rules;
  ASSERT_EQ(rules.set_rules({{"b$", "", "", RuleScope::Any, Category::Combine, ""}}), "");
  EXPECT_EQ(classify(rules, std::string(kMaxMatchedBytes - 1, 'a') + "b"), Category::Combine);
  // The b sits past the bound: the rule sees only the first kMaxMatchedBytes bytes (documented).
  EXPECT_FALSE(classify(rules, std::string(kMaxMatchedBytes, 'a') + "b"));
}

TEST(ClassificationRules, Re2RejectionsNameTheRuleAndField) {
  ClassificationRules r;
  const std::size_t before = r.rules().size();
  EXPECT_EQ(r.from_json(R"j({"version":2,"rules":[{"name":"a","category":"dispatch"},{"name":"(","category":"combine"}]})j")
                .rfind("rule 1: name: invalid regex \"(\": missing )", 0),
            0u);
  EXPECT_EQ(r.rules().size(), before) << "unchanged on error";
  // Lookahead and backreferences are outside RE2's linear-time language.
  EXPECT_EQ(r.from_json(R"j({"version":2,"rules":[{"name":"nccl(?=Kernel)","category":"dispatch"}]})j").rfind("rule 0: name: invalid regex", 0), 0u);
  EXPECT_EQ(r.from_json(R"j({"version":2,"rules":[{"name":"x","arg":"k","arg_value":"(a)\\1","category":"dispatch"}]})j")
                .rfind("rule 0: arg_value: invalid regex", 0),
            0u);
  EXPECT_EQ(r.from_json(R"j({"version":2,"annotations":[{"name":"[z-a]","phase":"dispatch"}]})j").rfind("annotation 0: name: invalid regex", 0), 0u);
  EXPECT_EQ(r.set_rules({{std::string(kMaxPatternBytes + 1, 'a'), "", "", RuleScope::Any, Category::Dispatch, ""}})
                .rfind("rule 0: name: regex longer than", 0),
            0u);
}

TEST(ClassificationRules, JsonErrorsNameTheirPlace) {
  ClassificationRules r;
  auto err = [&](const char* json) { return r.from_json(json); };
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"name":"a","category":"fast"}]})j"), "rule 0: category: unknown category \"fast\"");
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"name":"a"}]})j"), "rule 0: category: missing");
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"name":1,"category":"dispatch"}]})j"), "rule 0: name: expected a string");
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"name":"a","category":"dispatch","colour":"red"}]})j")
                .rfind("rule 0: unknown field \"colour\"", 0),
            0u);
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"name":"a","scope":"gpu","category":"dispatch"}]})j"),
            "rule 0: scope: unknown scope \"gpu\" (any, device, host)");
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"arg_value":"x","category":"dispatch"}]})j"), "rule 0: arg_value given without arg");
  EXPECT_EQ(err(R"j({"version":2,"annotations":[{"name":"x","phase":"send"}]})j"),
            "annotation 0: phase: unknown phase \"send\" (none, dispatch, combine, communication)");
  EXPECT_EQ(err(R"j({"version":2,"annotations":[{"name":"x","pass":"sideways"}]})j"),
            "annotation 0: pass: unknown pass \"sideways\" (none, forward, backward, weight_grad)");
  EXPECT_EQ(err(R"j({"version":2,"annotations":[{"name":"layer"}]})j"),
            "annotation 0: says nothing: give a phase, a pass or \"layer\": true");
  EXPECT_EQ(err(R"j({"version":2,"annotations":[{"name":"layer","layer":true}]})j"),
            "annotation 0: layer: the name regex needs a capture group for the layer number");
  EXPECT_EQ(err(R"j({"version":2,"policy":{"compute_in_comm_annotation":"sometimes"}})j"),
            "policy: compute_in_comm_annotation: unknown value \"sometimes\" (computation, communication)");
  EXPECT_EQ(err(R"j({"version":2,"include":["nccl","nosuch"]})j").rfind("include 1: unknown preset \"nosuch\" (defaults, ", 0), 0u);
  EXPECT_EQ(err(R"j({"version":3,"rules":[]})j"), "version: unknown version 3 (this build reads versions 1 and 2)");
  EXPECT_EQ(err(R"j({"version":"2","rules":[]})j"), "version: unknown version \"2\" (this build reads versions 1 and 2)");
  EXPECT_EQ(err(R"j({"rules":[]})j"), "version: missing (this build reads versions 1 and 2)");
  EXPECT_EQ(err(R"j({"version":1,"rules":[],"annotations":[]})j").rfind("version 1: unknown field \"annotations\"", 0), 0u);
  EXPECT_EQ(err(R"j({"version":2,"rules":[{"name":"a","category":"dispatch"}],"extra":1e400})j").rfind("not valid JSON: ", 0), 0u);
  EXPECT_EQ(err("{not json").rfind("not valid JSON: ", 0), 0u);
  EXPECT_EQ(err((std::string(100000, '[') + std::string(100000, ']')).c_str()),
            "nested deeper than 16 levels (not a rules document)");
  EXPECT_EQ(err("[]"), "expected a JSON object with \"version\" and \"rules\"");
}

TEST(ClassificationRules, JsonRoundTripKeepsEverything) {
  ClassificationRules custom{ClassificationRules::defaults()};
  custom.set_policy({AnnotatedCompute::Communication});
  ClassificationRules loaded;
  ASSERT_EQ(loaded.set_rules({}), "");
  ASSERT_EQ(loaded.from_json(custom.to_json()), "");
  ASSERT_EQ(loaded.rules().size(), custom.rules().size());
  for (std::size_t i = 0; i < loaded.rules().size(); ++i) {
    const auto& a = loaded.rules()[i];
    const auto& b = custom.rules()[i];
    EXPECT_EQ(std::tie(a.name_regex, a.arg_key, a.arg_value_regex, a.scope, a.category, a.family),
              std::tie(b.name_regex, b.arg_key, b.arg_value_regex, b.scope, b.category, b.family));
  }
  ASSERT_EQ(loaded.annotation_rules().size(), custom.annotation_rules().size());
  for (std::size_t i = 0; i < loaded.annotation_rules().size(); ++i) {
    const auto& a = loaded.annotation_rules()[i];
    const auto& b = custom.annotation_rules()[i];
    EXPECT_EQ(std::tie(a.name_regex, a.phase, a.pass, a.layer, a.family), std::tie(b.name_regex, b.phase, b.pass, b.layer, b.family));
  }
  EXPECT_EQ(loaded.policy(), custom.policy());
}

TEST(ClassificationRules, UserRulesComeBeforeTheIncludedPresets) {
  ClassificationRules r;
  ASSERT_EQ(r.from_json(R"j({"version": 2, "family": "mine", "include": ["defaults"],
                             "rules": [{"name": "^fork_a2a_", "scope": "device", "category": "dispatch"}]})j"),
            "");
  ASSERT_EQ(r.rules().size(), ClassificationRules::defaults().rules().size() + 1);
  EXPECT_EQ(r.rules()[0].family, "mine") << "the document's family labels its rules";
  EXPECT_EQ(classify(r, "fork_a2a_send"), Category::Dispatch);
  EXPECT_EQ(classify(r, "ncclDevKernel_SendRecv"), Category::OtherComm) << "the presets still apply";
  EXPECT_EQ(r.annotation_rules().size(), ClassificationRules::defaults().annotation_rules().size());
  // Version 1 replaces the kernel rules only.
  ASSERT_EQ(r.from_json(R"j({"version": 1, "rules": [{"name": "^x$", "category": "combine"}]})j"), "");
  EXPECT_EQ(r.rules().size(), 1u);
  EXPECT_EQ(r.annotation_rules().size(), ClassificationRules::defaults().annotation_rules().size());
}

TEST(ClassificationRules, EveryPresetLoadsAloneAndTheDefaultsAreAllOfThem) {
  std::size_t rules = 0, annotations = 0;
  for (const std::string& name : ClassificationRules::preset_names()) {
    ClassificationRules alone;
    ASSERT_EQ(alone.from_json(ClassificationRules::preset_text(name)), "") << name;
    rules += alone.rules().size();
    annotations += alone.annotation_rules().size();
    for (const auto& r : alone.rules()) EXPECT_FALSE(r.family.empty()) << name << ": " << r.name_regex;
  }
  EXPECT_EQ(ClassificationRules::defaults().rules().size(), rules);
  EXPECT_EQ(ClassificationRules::defaults().annotation_rules().size(), annotations);
  for (const char* family : {"nccl", "deepep", "pplx", "hybrid_ep", "nvshmem", "mscclpp_rccl", "ucc",
                             "triton_distributed", "c10d", "engine", "annotations"}) {
    EXPECT_FALSE(ClassificationRules::preset_text(family).empty()) << family;
  }
}

TEST(ClassificationRules, AnnotationNamesGivePhasePassAndLayer) {
  const ClassificationRules& rules = ClassificationRules::defaults();
  auto verdict = [&](std::string_view name) { return rules.annotation(name); };
  EXPECT_EQ(verdict("scmoe:dispatch").phase, AnnotatedPhase::Dispatch);
  EXPECT_EQ(verdict("MoE combine (B)").phase, AnnotatedPhase::Combine);
  EXPECT_EQ(verdict("MoE combine (B)").pass, AnnotatedPass::Backward);
  EXPECT_EQ(verdict("MoEAlltoAllTokenDispatcher.token_unpermutation").phase, AnnotatedPhase::Combine);
  EXPECT_EQ(verdict("nccl:all_to_all").phase, AnnotatedPhase::Communication);
  EXPECT_EQ(verdict("a2a_dispatch").phase, AnnotatedPhase::Dispatch) << "dispatch is said before a2a";
  EXPECT_EQ(verdict("ep_a2a").phase, AnnotatedPhase::Communication);
  EXPECT_EQ(verdict("record_param_comms").phase, AnnotatedPhase::Communication);
  EXPECT_EQ(verdict("autograd::engine::evaluate_function: AllToAllBackward0").pass, AnnotatedPass::Backward);
  EXPECT_EQ(verdict("delayed_expert_wgrad").pass, AnnotatedPass::WeightGrad);
  EXPECT_EQ(verdict("expert (W)").pass, AnnotatedPass::WeightGrad);
  EXPECT_EQ(verdict("dispatch (F)").pass, AnnotatedPass::Forward);
  EXPECT_EQ(verdict("decoder.layers.13.mlp").layer, 13);
  EXPECT_EQ(verdict("layer_7 dispatch").layer, 7);
  EXPECT_EQ(verdict("layer_7 dispatch").phase, AnnotatedPhase::Dispatch);
  EXPECT_FALSE(verdict("aten::mm").any());
  EXPECT_FALSE(verdict("ProfilerStep#3").any());
}

TEST(ClassificationRules, SaveAndLoadFile) {
  testing::TempDir dir;
  ClassificationRules rules;
  ASSERT_EQ(rules.set_rules({{"^my_a2a", "", "", RuleScope::Device, Category::Dispatch, "mine"}}), "");
  ASSERT_EQ(rules.save_file(dir.file("rules.json")), "");
  ClassificationRules loaded;
  ASSERT_EQ(loaded.load_file(dir.file("rules.json")), "");
  ASSERT_EQ(loaded.rules().size(), 1u);
  EXPECT_EQ(loaded.rules()[0].scope, RuleScope::Device);
  EXPECT_EQ(loaded.rules()[0].family, "mine");
  EXPECT_NE(loaded.load_file(dir.file("missing.json")).find("missing.json: cannot open"), std::string::npos);
  // Not a regular file: refused before reading (a FIFO would block, /dev/zero never ends).
  EXPECT_EQ(loaded.load_file(dir.path()), dir.path() + ": not a regular file");
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  EXPECT_EQ(loaded.load_file(dir.file("fifo")), dir.file("fifo") + ": not a regular file");
  EXPECT_EQ(loaded.load_file("/dev/zero"), "/dev/zero: not a regular file");
  EXPECT_EQ(loaded.rules().size(), 1u) << "unchanged by the failed loads";
}

TEST(Classifier, CachedVerdictsMatchTheSlowPath) {
  const ClassificationRules rules;
  StringTable strings;
  const std::vector<std::string> names = {"ncclDevKernel_SendRecv", "dispatch", "gemm", "deep_ep::intranode::combine<1>",
                                          "expert", "record_param_comms", "void deep_ep::layout::get_dispatch_layout<1>()"};
  const std::vector<Arg> with_collective{{strings.intern("Collective name"), "allreduce"}};
  Classifier classifier(rules, strings);
  for (int round = 0; round < 2; ++round) {  // second round hits the cache
    for (const std::string& n : names) {
      const std::uint32_t id = strings.intern(n);
      for (bool device : {true, false}) {
        EXPECT_EQ(classifier.classify(id, {}, device), rules.classify(n, {}, strings, device)) << n;
        EXPECT_EQ(classifier.classify(id, with_collective, device), rules.classify(n, with_collective, strings, device))
            << n;
      }
    }
  }
}

}  // namespace
}  // namespace scmoe::prof
