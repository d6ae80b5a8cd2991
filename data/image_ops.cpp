// Resizing and cropping 8-bit images the way torchvision's PIL transforms do.
#include <algorithm>
#include <cmath>

#include "data/image.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

// PIL's separable resampling with the bilinear (triangle) filter: when shrinking, the filter
// widens by the scale factor, which is what makes it antialiased.
struct Taps {
  std::vector<int> first, count;
  std::vector<float> weights;  // count[i] weights per output index, padded to `stride`
  int stride = 0;
};

Taps make_taps(int in, int out) {
  double scale = static_cast<double>(in) / out;
  double filterscale = std::max(scale, 1.0);
  double support = 1.0 * filterscale;
  Taps t;
  t.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out) * t.stride, 0.f);
  for (int i = 0; i < out; ++i) {
    double center = (i + 0.5) * scale;
    int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    int xmax = std::min(static_cast<int>(center + support + 0.5), in);
    double total = 0;
    int k = 0;
    std::vector<double> w;
    for (int x = xmin; x < xmax && k < t.stride; ++x, ++k) {
      double d = std::fabs((x - center + 0.5) / filterscale);
      double v = d < 1.0 ? 1.0 - d : 0.0;
      w.push_back(v);
      total += v;
    }
    t.first[i] = xmin;
    t.count[i] = k;
    for (int j = 0; j < k; ++j)
      t.weights[static_cast<size_t>(i) * t.stride + j] =
          static_cast<float>(total > 0 ? w[j] / total : 0.0);
  }
  return t;
}

uint8_t clamp_u8(float v) {
  return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

// Python's round(): half to even.
int round_half_even(double v) {
  double r = std::nearbyint(v);  // the default rounding mode is to nearest, ties to even
  return static_cast<int>(r);
}

}  // namespace

Image resize_bilinear(const Image& img, int height, int width) {
  NSAL_CHECK_AS(DataError, height > 0 && width > 0 && img.height > 0 && img.width > 0,
                "resize of a {}x{} image to {}x{}", img.height, img.width, height, width);
  int c = img.channels;
  // Horizontal pass into floats (H, width, C), then vertical into bytes.
  Taps tx = make_taps(img.width, width);
  std::vector<float> mid(static_cast<size_t>(img.height) * width * c);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* row = img.pixels.data() + static_cast<size_t>(y) * img.width * c;
    float* o = mid.data() + static_cast<size_t>(y) * width * c;
    for (int x = 0; x < width; ++x) {
      const float* w = tx.weights.data() + static_cast<size_t>(x) * tx.stride;
      for (int ch = 0; ch < c; ++ch) {
        float s = 0;
        for (int k = 0; k < tx.count[x]; ++k)
          s += w[k] * row[(tx.first[x] + k) * c + ch];
        o[x * c + ch] = s;
      }
    }
  }
  // PIL rounds after each pass; doing the same keeps results within one level of PIL's.
  for (float& v : mid)
    v = static_cast<float>(clamp_u8(v));
  Taps ty = make_taps(img.height, height);
  Image out;
  out.height = height;
  out.width = width;
  out.channels = c;
  out.pixels.resize(static_cast<size_t>(height) * width * c);
  size_t row_elems = static_cast<size_t>(width) * c;
  std::vector<float> acc(row_elems);
  for (int y = 0; y < height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.f);
    const float* w = ty.weights.data() + static_cast<size_t>(y) * ty.stride;
    for (int k = 0; k < ty.count[y]; ++k) {
      const float* src = mid.data() + static_cast<size_t>(ty.first[y] + k) * row_elems;
      for (size_t i = 0; i < row_elems; ++i)
        acc[i] += w[k] * src[i];
    }
    uint8_t* o = out.pixels.data() + static_cast<size_t>(y) * row_elems;
    for (size_t i = 0; i < row_elems; ++i)
      o[i] = clamp_u8(acc[i]);
  }
  return out;
}

Image resize_nearest(const Image& img, int height, int width) {
  NSAL_CHECK_AS(DataError, height > 0 && width > 0 && img.height > 0 && img.width > 0,
                "resize of a {}x{} image to {}x{}", img.height, img.width, height, width);
  Image out;
  out.height = height;
  out.width = width;
  out.channels = img.channels;
  out.pixels.resize(static_cast<size_t>(height) * width * img.channels);
  double sy = static_cast<double>(img.height) / height, sx = static_cast<double>(img.width) / width;
  for (int y = 0; y < height; ++y) {
    int iy = std::min(img.height - 1, static_cast<int>((y + 0.5) * sy));
    for (int x = 0; x < width; ++x) {
      int ix = std::min(img.width - 1, static_cast<int>((x + 0.5) * sx));
      for (int c = 0; c < img.channels; ++c)
        out.pixels[(static_cast<size_t>(y) * width + x) * img.channels + c] = img.at(iy, ix, c);
    }
  }
  return out;
}

void shorter_side_size(int height, int width, int size, int& out_h, int& out_w) {
  if (width <= height) {
    out_w = size;
    out_h = static_cast<int>(static_cast<int64_t>(size) * height / width);
  } else {
    out_h = size;
    out_w = static_cast<int>(static_cast<int64_t>(size) * width / height);
  }
}

Image center_crop(const Image& img, int height, int width) {
  NSAL_CHECK_AS(DataError, height <= img.height && width <= img.width,
                "center crop {}x{} of a smaller {}x{} image", height, width, img.height, img.width);
  int top = round_half_even((img.height - height) / 2.0);
  int left = round_half_even((img.width - width) / 2.0);
  Image out;
  out.height = height;
  out.width = width;
  out.channels = img.channels;
  out.pixels.resize(static_cast<size_t>(height) * width * img.channels);
  size_t row = static_cast<size_t>(width) * img.channels;
  for (int y = 0; y < height; ++y)
    std::copy_n(
        img.pixels.data() + ((static_cast<size_t>(top + y) * img.width) + left) * img.channels, row,
        out.pixels.data() + y * row);
  return out;
}

void to_planes(const Image& img, uint8_t* out) {
  size_t plane = static_cast<size_t>(img.height) * img.width;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < img.channels; ++c)
      out[c * plane + p] = img.pixels[p * img.channels + c];
}

void load_image_planes(const std::string& path, int resize, int crop, uint8_t* out) {
  Image img = read_image_rgb(path);
  if (resize > 0) {
    int h, w;
    shorter_side_size(img.height, img.width, resize, h, w);
    if (h != img.height || w != img.width) img = resize_bilinear(img, h, w);
  }
  NSAL_CHECK_AS(DataError, img.height >= crop && img.width >= crop,
                "{}: the image is {}x{}{}, smaller than the {}x{} crop", path, img.height,
                img.width, resize > 0 ? " after resizing" : "", crop, crop);
  to_planes(center_crop(img, crop, crop), out);
}

}  // namespace nsal::data
