// libFuzzer target: the csv parser (see data/fuzz_entry.h).
#include <cstddef>
#include <cstdint>

#include "data/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nsal::data::fuzz_csv(data, size);
}
