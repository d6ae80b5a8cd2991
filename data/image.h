// 8-bit images: JPEG (libjpeg-turbo) and PNG (libpng) decoding and encoding, resizing and
// cropping as torchvision does it (Resize(256) then CenterCrop(224) on PIL images).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nsal::data {

// Interleaved pixels, row-major (H, W, C); C is 1 (gray) or 3 (RGB).
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int y, int x, int c) const {
    return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

// Decoders. `name` is the file name used in errors; corrupt, truncated or unsupported data is a
// DataError naming it. RGB decoding turns gray and CMYK images into RGB and drops alpha.
Image decode_jpeg_rgb(const uint8_t* data, size_t n, const std::string& name);
Image decode_png_rgb(const uint8_t* data, size_t n, const std::string& name);
Image decode_image_rgb(const uint8_t* data, size_t n, const std::string& name);  // by signature
Image read_image_rgb(const std::string& path);

// A label map: an 8-bit gray (or palette) PNG whose values are read as they are stored, with no
// gamma or colour conversion. Other layouts are refused.
Image decode_png_labels(const uint8_t* data, size_t n, const std::string& name);
Image read_png_labels(const std::string& path);

std::vector<uint8_t> encode_png(const Image& img);
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 90);

// Antialiased bilinear resize (PIL's BILINEAR filter, the one torchvision applies).
Image resize_bilinear(const Image& img, int height, int width);
// Nearest neighbour (PIL's NEAREST), for label maps.
Image resize_nearest(const Image& img, int height, int width);
// torchvision's Resize(size): the shorter side becomes `size`, the other keeps the aspect ratio
// (truncated, as torchvision computes it).
void shorter_side_size(int height, int width, int size, int& out_h, int& out_w);
// torchvision's CenterCrop: offsets round((H - h) / 2) with Python's round half to even.
Image center_crop(const Image& img, int height, int width);

// (H, W, C) interleaved into planes (C, H, W).
void to_planes(const Image& img, uint8_t* out);

// Decodes an image file as RGB, resizes its shorter side to `resize` (0: no resize) and
// center-crops crop x crop, as torchvision's Resize(resize) + CenterCrop(crop); writes the
// (3, crop, crop) planes to `out`. An image smaller than the crop is a DataError.
void load_image_planes(const std::string& path, int resize, int crop, uint8_t* out);

}  // namespace nsal::data
