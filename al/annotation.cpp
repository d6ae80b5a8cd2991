#include "al/annotation.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>

#include "al/atomic_file.h"
#include "data/image.h"
#include "kernels/error.h"

namespace nsal::al {

namespace {

// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// Sample `idx` of a (N, C, H, W) set with C = 1 or 3 as 8-bit pixels (uint8 data as is, float
// data in [0, 1] units scaled by 255).
data::Image sample_image(const data::Dataset& d, int64_t idx) {
  Shape s = d.sample_shape();
  data::Image img;
  img.channels = static_cast<int>(s[0]);
  img.height = static_cast<int>(s[1]);
  img.width = static_cast<int>(s[2]);
  img.pixels.resize(static_cast<size_t>(s[0] * s[1] * s[2]));
  const int64_t plane = s[1] * s[2];
  const int64_t base = idx * s[0] * plane;
  for (int64_t c = 0; c < s[0]; ++c)
    for (int64_t p = 0; p < plane; ++p) {
      double v = d.x.dtype() == DType::u8 ? d.x.data<uint8_t>()[base + c * plane + p]
                                          : 255.0 * d.x.data<float>()[base + c * plane + p];
      img.pixels[static_cast<size_t>(p * s[0] + c)] =
          static_cast<uint8_t>(std::min(255.0, std::max(0.0, v + 0.5)));
    }
  return img;
}

}  // namespace

void write_annotation_folder(const data::Dataset& d, const std::vector<int64_t>& indices,
                             const std::string& dir) {
  make_dirs(dir);
  const bool images = !d.images_as_files() && annotation_shows_samples(d);
  std::string csv = "index,file,label\n";
  for (int64_t idx : indices) {
    NSAL_CHECK(idx >= 0 && idx < d.size(), "{}: sample {} is out of range [0, {})", d.where("x"),
               idx, d.size());
    std::string file;
    if (images) {
      file = fmt::format("{}.png", idx);
      std::vector<uint8_t> png = data::encode_png(sample_image(d, idx));
      write_file_atomic(dir + "/" + file, std::string(png.begin(), png.end()));
    } else if (d.images_as_files()) {
      file = d.image_root + "/" + d.files[static_cast<size_t>(idx)];
    }
    csv += fmt::format("{},{},\n", idx, csv_field(file));
  }
  write_file_atomic(dir + "/labels.csv", csv);
  std::string classes = "id,name\n";
  for (int c = 0; c < d.num_classes; ++c)
    classes +=
        fmt::format("{},{}\n", c,
                    csv_field(c < static_cast<int>(d.class_names.size()) ? d.class_names[c] : ""));
  write_file_atomic(dir + "/classes.csv", classes);
  write_indices(dir + "/requested.txt", indices);
}

bool annotation_shows_samples(const data::Dataset& d) {
  if (d.images_as_files()) return true;
  const Shape s = d.sample_shape();
  return s.size() == 3 && (s[0] == 1 || s[0] == 3);
}

void remove_annotation_folder_files(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string requested = dir + "/requested.txt";
  if (!file_exists(requested)) return;
  std::error_code ec;
  for (int64_t idx : read_indices(requested))
    fs::remove(fmt::format("{}/{}.png", dir, idx), ec);
  for (const char* f : {"labels.csv", "classes.csv"})
    fs::remove(dir + "/" + f, ec);
  NSAL_CHECK(fs::remove(requested, ec) && !ec, "{}: cannot remove: {}", requested, ec.message());
}

}  // namespace nsal::al
