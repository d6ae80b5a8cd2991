// CIFAR-10 and CIFAR-100 binary batches: the record parser and the converter.
#pragma once

#include <string>

#include "data/convert.h"

namespace nsal::data {

enum class CifarKind { cifar10, cifar100 };

// Parses whole records from memory. CIFAR-10 records are <label> + 3072 bytes; CIFAR-100
// records are <coarse> <fine> + 3072 bytes (use_coarse picks the label). The image bytes are
// already (3, 32, 32) planes. Returns x uint8 (N, 3, 32, 32) and y int32 (N) in `out`; throws
// DataError naming `name` for a partial record or a label >= num_classes.
void parse_cifar(const uint8_t* data, size_t n, CifarKind kind, bool use_coarse,
                 const std::string& name, Dataset& out);

// dir holds data_batch_1..5.bin and test_batch.bin (CIFAR-10) or train.bin and test.bin
// (CIFAR-100), with the class-name files when present (batches.meta.txt, fine_label_names.txt,
// coarse_label_names.txt).
void convert_cifar(const std::string& dir, CifarKind kind, bool use_coarse,
                   const ConvertOptions& opts);

}  // namespace nsal::data
