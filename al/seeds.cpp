#include "al/seeds.h"

#include <cstddef>
#include <utility>

#include "kernels/philox.h"

namespace nsal::al {

std::vector<int64_t> seeded_shuffle(std::vector<int64_t> items, uint64_t seed) {
  const philox::Key key = philox::make_key(seed);
  for (std::size_t i = items.size(); i > 1; --i) {
    philox::U32x4 r = philox::philox4x32_10(philox::make_counter(i, 0), key);
    uint64_t word = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    std::size_t j = static_cast<std::size_t>(word % i);  // bias below 2^-40 for any realistic pool
    std::swap(items[i - 1], items[j]);
  }
  return items;
}

}  // namespace nsal::al
