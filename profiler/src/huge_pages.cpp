#include "scmoe/profiler/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace scmoe::prof {

void advise_huge_pages(void* data, std::size_t bytes) {
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kHugePageBytes - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace scmoe::prof
