// Transparent huge pages for large buffers the profiler fills at once (file reads, decoded spans, arg
// storage). Filling a fresh 100 MB buffer otherwise costs ~25,000 page faults, which dominate loading a
// trace (on the development VM a fault costs ~11 us); with 2 MiB pages it costs ~50.
#pragma once

#include <cstddef>

namespace scmoe::prof {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// Asks the kernel to back the 2 MiB-aligned part of [data, data + bytes) with huge pages. A no-op for
// ranges that hold no aligned 2 MiB page and where THP is unavailable.
void advise_huge_pages(void* data, std::size_t bytes);

}  // namespace scmoe::prof
