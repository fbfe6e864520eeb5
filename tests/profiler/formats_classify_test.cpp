#include "scmoe/profiler/classify.h"

#include <gtest/gtest.h>

#include "formats_test_util.h"

namespace scmoe::prof {
namespace {

std::optional<Category> classify(const ClassificationRules& rules, std::string_view name, bool on_device = true,
                                 std::vector<Arg> args = {}, StringTable* strings = nullptr) {
  StringTable local;
  StringTable& table = strings ? *strings : local;
  return rules.classify(name, args, table, on_device);
}

TEST(ClassificationRules, NcclOldAndNewKernelNamesAreCommunication) {
  const ClassificationRules rules;
  EXPECT_EQ(classify(rules, "ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)"),
            Category::OtherComm);
  EXPECT_EQ(classify(rules, "ncclDevKernel_SendRecv(ncclDevComm*, unsigned long, ncclWork*)"), Category::OtherComm);
  EXPECT_EQ(classify(rules, "void ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)"), Category::OtherComm);
  EXPECT_EQ(classify(rules, "ncclAllReduceRingLLKernel_sum_f32(CollectiveArgs)"), Category::OtherComm);
  EXPECT_FALSE(classify(rules, "void cutlass::Kernel<cutlass_80_tensorop_s1688gemm>(Params)"));
  // A host op with an NCCL-like name is not device communication.
  EXPECT_FALSE(classify(rules, "ncclKernel_AllReduce", /*on_device=*/false));
}

TEST(ClassificationRules, CollectiveNameArgMarksKernelsAsCommunication) {
  const ClassificationRules rules;
  StringTable strings;
  const std::vector<Arg> args{{strings.intern("Collective name"), "all_to_all"}};
  EXPECT_EQ(classify(rules, "some_custom_a2a_kernel", true, args, &strings), Category::OtherComm);
  EXPECT_FALSE(classify(rules, "some_custom_a2a_kernel", true, {}, &strings));
  EXPECT_FALSE(classify(rules, "record_param_comms", /*on_device=*/false, args, &strings));
}

TEST(ClassificationRules, DeepEpKernelsMapToTheirPhase) {
  const ClassificationRules rules;
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*)"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "void deep_ep::internode_ll::combine<false>(void*)"), Category::Combine);
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::notify_dispatch(int const*)"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::cached_notify_combine(void**)"), Category::Combine);
  EXPECT_EQ(classify(rules, "void deep_ep::intranode::barrier<8>(int**, int)"), Category::OtherComm);
}

TEST(ClassificationRules, EngineAnnotationsNameTheirCategory) {
  const ClassificationRules rules;
  EXPECT_EQ(classify(rules, "dispatch"), Category::Dispatch);
  EXPECT_EQ(classify(rules, "scmoe:combine_chunk1"), Category::Combine);
  EXPECT_EQ(classify(rules, "shared_expert"), Category::SharedExpert);
  EXPECT_EQ(classify(rules, "expert:3", false), Category::Expert);
  EXPECT_EQ(classify(rules, "attention"), Category::Attention);
  EXPECT_FALSE(classify(rules, "dispatcher_setup"));
  EXPECT_FALSE(classify(rules, "multi_attention_head"));
}

TEST(ClassificationRules, FirstMatchingRuleWins) {
  ClassificationRules rules;
  ASSERT_EQ(rules.set_rules({{"^nccl", "", "", RuleScope::Any, Category::Dispatch},
                             {"^nccl", "", "", RuleScope::Any, Category::Combine}}),
            "");
  EXPECT_EQ(classify(rules, "ncclKernel_x"), Category::Dispatch);
}

TEST(ClassificationRules, JsonRoundTripAndErrorsNameTheRule) {
  const ClassificationRules defaults;
  ClassificationRules loaded;
  ASSERT_EQ(loaded.set_rules({}), "");
  ASSERT_EQ(loaded.from_json(defaults.to_json()), "");
  ASSERT_EQ(loaded.rules().size(), defaults.rules().size());
  for (std::size_t i = 0; i < loaded.rules().size(); ++i) {
    EXPECT_EQ(loaded.rules()[i].name_regex, defaults.rules()[i].name_regex);
    EXPECT_EQ(loaded.rules()[i].arg_key, defaults.rules()[i].arg_key);
    EXPECT_EQ(loaded.rules()[i].scope, defaults.rules()[i].scope);
    EXPECT_EQ(loaded.rules()[i].category, defaults.rules()[i].category);
  }
  ClassificationRules r;
  const std::size_t before = r.rules().size();
  EXPECT_EQ(r.from_json(R"({"rules":[{"name":"a","category":"dispatch"},{"name":"(","category":"combine"}]})")
                .rfind("rule 1: name: invalid regex", 0),
            0u);
  EXPECT_EQ(r.rules().size(), before);  // unchanged on error
  EXPECT_EQ(r.from_json(R"({"rules":[{"name":"a","category":"fast"}]})"), "rule 0: category: unknown category \"fast\"");
  EXPECT_EQ(r.from_json(R"({"rules":[{"name":"a"}]})"), "rule 0: category: missing");
  EXPECT_EQ(r.from_json(R"({"rules":[{"name":1,"category":"dispatch"}]})"), "rule 0: name: expected a string");
  EXPECT_EQ(r.from_json(R"({"rules":[{"name":"a","category":"dispatch","colour":"red"}]})").rfind("rule 0: unknown field \"colour\"", 0), 0u);
  EXPECT_EQ(r.from_json(R"({"rules":[{"name":"a","scope":"gpu","category":"dispatch"}]})"),
            "rule 0: scope: unknown scope \"gpu\" (any, device, host)");
  EXPECT_EQ(r.from_json(R"({"rules":[{"arg_value":"x","category":"dispatch"}]})"), "rule 0: arg_value given without arg");
  EXPECT_NE(r.from_json("{not json").find("classification rules:"), std::string::npos);
}

TEST(ClassificationRules, SaveAndLoadFile) {
  testing::TempDir dir;
  ClassificationRules rules;
  ASSERT_EQ(rules.set_rules({{"^my_a2a", "", "", RuleScope::Device, Category::Dispatch}}), "");
  ASSERT_EQ(rules.save_file(dir.file("rules.json")), "");
  ClassificationRules loaded;
  ASSERT_EQ(loaded.load_file(dir.file("rules.json")), "");
  ASSERT_EQ(loaded.rules().size(), 1u);
  EXPECT_EQ(loaded.rules()[0].scope, RuleScope::Device);
  EXPECT_NE(loaded.load_file(dir.file("missing.json")), "");
}

TEST(Classifier, CachedVerdictsMatchTheSlowPath) {
  const ClassificationRules rules;
  StringTable strings;
  const std::vector<std::string> names = {"ncclDevKernel_SendRecv", "dispatch", "gemm", "deep_ep::intranode::combine<1>",
                                          "expert", "record_param_comms"};
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

TEST(ApplyPhaseAnnotations, SendRecvInsideDispatchRangeBecomesDispatch) {
  Trace t;
  const auto comm = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::CudaStream, 40, "stream 40"});
  const auto notes = t.track_for({0, 0, DeviceKind::Gpu, TrackKind::Annotation, 40, "stream 40 annotations"});
  const auto other_gpu = t.track_for({0, 1, DeviceKind::Gpu, TrackKind::CudaStream, 40, "stream 40"});
  const auto k = t.strings.intern("ncclDevKernel_SendRecv");
  auto add = [&](std::uint32_t track, std::int64_t a, std::int64_t b, std::uint32_t name, Category c) {
    Span s;
    s.start_ns = a;
    s.end_ns = b;
    s.name = name;
    s.category = c;
    t.tracks[track].spans.push_back(s);
  };
  add(notes, 0, 1000, t.strings.intern("dispatch"), Category::Dispatch);
  add(notes, 5000, 9000, t.strings.intern("combine"), Category::Combine);
  add(notes, 5100, 5200, t.strings.intern("inner label"), Category::Other);
  add(comm, 100, 900, k, Category::OtherComm);      // inside dispatch
  add(comm, 2000, 3000, k, Category::OtherComm);    // outside every range
  add(comm, 5150, 8000, k, Category::OtherComm);    // inside combine (the inner label is not a phase)
  add(comm, 6000, 7000, k, Category::Expert);       // not communication: untouched
  add(other_gpu, 100, 900, k, Category::OtherComm); // another device: untouched
  t.finalize();
  EXPECT_EQ(apply_phase_annotations(t), 2u);
  EXPECT_EQ(t.tracks[comm].spans[0].category, Category::Dispatch);
  EXPECT_EQ(t.tracks[comm].spans[1].category, Category::OtherComm);
  EXPECT_EQ(t.tracks[comm].spans[2].category, Category::Combine);
  EXPECT_EQ(t.tracks[comm].spans[3].category, Category::Expert);
  EXPECT_EQ(t.tracks[other_gpu].spans[0].category, Category::OtherComm);
}

}  // namespace
}  // namespace scmoe::prof
