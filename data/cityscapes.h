// Cityscapes: leftImg8bit/<split>/<city>/<name>_leftImg8bit.png images with their
// gtFine/<split>/<city>/<name>_gtFine_labelIds.png label maps. Label ids are mapped to the 19
// train ids of the benchmark (road 0 ... bicycle 18); every other id becomes 255 (ignored).
// train/ becomes the train split and val/ the test split (test/ has no public labels).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/convert.h"

namespace nsal::data {

// label id (0..255) -> train id (0..18 or 255).
const std::array<uint8_t, 256>& cityscapes_train_ids();
const std::vector<std::string>& cityscapes_class_names();

struct CityscapesOptions {
  int width = 512, height = 256;  // images resized (antialiased bilinear), masks (nearest)
  int threads = 0;                // decoding threads (0: OpenMP's default)
};

// (image, label map) pairs of one split, relative to root, sorted; throws naming an image
// without its label map.
std::vector<std::pair<std::string, std::string>> list_cityscapes(const std::string& root,
                                                                 const std::string& split);

void convert_cityscapes(const std::string& root, const CityscapesOptions& co,
                        const ConvertOptions& opts);

}  // namespace nsal::data
