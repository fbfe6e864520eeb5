// A copied trace (and its string table) must stand on its own once the original is gone.
#include <gtest/gtest.h>

#include <memory>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof {
namespace {

TEST(StringTable, CopyOutlivesTheOriginal) {
  auto original = std::make_unique<Trace>();
  const std::uint32_t gemm = original->strings.intern("gemm");
  original->strings.intern("all_to_all");
  Trace copy = *original;
  Trace assigned;
  assigned.strings.intern("something else");
  assigned = *original;
  original.reset();  // the copies' lookups must not read the freed strings (ASan checks this)
  for (Trace* t : {&copy, &assigned}) {
    EXPECT_EQ(t->strings.find("gemm"), gemm);
    EXPECT_EQ(t->strings.intern("all_to_all"), 1u) << "existing names keep their ids";
    EXPECT_EQ(t->strings.intern("combine"), 2u);
    EXPECT_EQ(t->strings.view(2), "combine");
    EXPECT_FALSE(t->strings.find("something else").has_value());
  }
  StringTable moved = std::move(copy.strings);
  EXPECT_EQ(moved.find("combine"), 2u);
}

}  // namespace
}  // namespace scmoe::prof
