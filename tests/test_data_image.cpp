#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "data/cityscapes.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "tests/test_data_util.h"

namespace nsal::data {

using nsal::testing::error_of;
using nsal::testing::expect_has;
using nsal::testing::TempDir;

namespace {

Image pattern(int h, int w, int c, int seed = 0) {
  Image img;
  img.height = h;
  img.width = w;
  img.channels = c;
  img.pixels.resize(static_cast<size_t>(h) * w * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch)
        img.pixels[(static_cast<size_t>(y) * w + x) * c + ch] =
            static_cast<uint8_t>((x * 16 + y * 9 + ch * 70 + seed * 31) % 256);
  return img;
}

// PIL's bilinear resampling written directly in 2-D, in double: the reference for the separable
// implementation (which rounds between its passes, as PIL does, so results may differ by 1).
double tri_weight(int x, double center, double filterscale) {
  double d = std::fabs((x - center + 0.5) / filterscale);
  return d < 1 ? 1 - d : 0;
}

double reference_pixel(const Image& img, int oy, int ox, int c, int out_h, int out_w) {
  double sy = double(img.height) / out_h, sx = double(img.width) / out_w;
  double fy = std::max(sy, 1.0), fx = std::max(sx, 1.0);
  double cy = (oy + 0.5) * sy, cx = (ox + 0.5) * sx;
  double acc = 0, total = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      double w = tri_weight(y, cy, fy) * tri_weight(x, cx, fx);
      acc += w * img.at(y, x, c);
      total += w;
    }
  return acc / total;
}

}  // namespace

TEST(DataImage, PngAndJpegRoundTrip) {
  Image rgb = pattern(7, 9, 3);
  auto png = encode_png(rgb);
  Image back = decode_png_rgb(png.data(), png.size(), "a.png");
  EXPECT_EQ(back.pixels, rgb.pixels);
  Image gray = pattern(5, 4, 1);
  auto gpng = encode_png(gray);
  Image g3 = decode_image_rgb(gpng.data(), gpng.size(), "g.png");
  ASSERT_EQ(g3.channels, 3);
  EXPECT_EQ(g3.at(2, 3, 0), gray.at(2, 3, 0));
  EXPECT_EQ(g3.at(2, 3, 2), gray.at(2, 3, 0));
  Image labels = decode_png_labels(gpng.data(), gpng.size(), "l.png");
  EXPECT_EQ(labels.pixels, gray.pixels);

  Image smooth = pattern(16, 16, 3);  // a gentle gradient: JPEG keeps it within a few levels
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c)
        smooth.pixels[(y * 16 + x) * 3 + c] = static_cast<uint8_t>(80 + 3 * x + 2 * y + 10 * c);
  auto jpg = encode_jpeg(smooth, 100);
  Image j = decode_image_rgb(jpg.data(), jpg.size(), "a.jpg");
  ASSERT_EQ(j.width, 16);
  int worst = 0;
  for (size_t i = 0; i < j.pixels.size(); ++i)
    worst = std::max(worst, std::abs(int(j.pixels[i]) - int(smooth.pixels[i])));
  EXPECT_LE(worst, 6);
}

TEST(DataImage, CorruptAndUnsupportedImagesNameTheFile) {
  auto png = encode_png(pattern(20, 20, 3));
  auto cut = png;
  cut.resize(png.size() - 30);
  expect_has(error_of([&] { decode_png_rgb(cut.data(), cut.size(), "cut.png"); }),
             {"cut.png", "corrupt PNG"});
  auto jpg = encode_jpeg(pattern(32, 32, 3));
  auto jcut = jpg;
  jcut.resize(jpg.size() / 2);
  expect_has(error_of([&] { decode_jpeg_rgb(jcut.data(), jcut.size(), "cut.jpg"); }),
             {"cut.jpg", "corrupt JPEG"});
  auto jbad = jpg;
  for (size_t i = 2; i < 40 && i < jbad.size(); ++i)
    jbad[i] = 0x42;
  expect_has(error_of([&] { decode_jpeg_rgb(jbad.data(), jbad.size(), "bad.jpg"); }),
             {"bad.jpg", "corrupt JPEG"});
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', '!', '!', '!', '!'};
  expect_has(error_of([&] { decode_image_rgb(text.data(), text.size(), "t.jpg"); }),
             {"t.jpg", "neither a JPEG nor a PNG"});
  expect_has(error_of([&] { decode_png_labels(png.data(), png.size(), "rgb.png"); }),
             {"rgb.png", "label map must be an 8-bit gray or palette PNG"});
}

TEST(DataImage, ResizeMatchesPilBilinear) {
  Image flat = pattern(9, 13, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 77);
  Image f = resize_bilinear(flat, 4, 5);
  for (uint8_t p : f.pixels)
    EXPECT_EQ(p, 77);
  Image same = pattern(6, 7, 3);
  EXPECT_EQ(resize_bilinear(same, 6, 7).pixels, same.pixels);
  // Halving: PIL's antialiased weights are 1/8, 3/8, 3/8, 1/8 (clipped and renormalised at the
  // border).
  Image row;
  row.height = 1;
  row.width = 8;
  row.channels = 1;
  row.pixels = {0, 80, 160, 240, 0, 80, 160, 240};
  Image half = resize_bilinear(row, 1, 4);
  EXPECT_EQ(half.pixels[1], std::lround((80 * 1 + 160 * 3 + 240 * 3 + 0 * 1) / 8.0));
  EXPECT_EQ(half.pixels[0], std::lround((0 * 3 + 80 * 3 + 160 * 1) / 7.0));
  // Arbitrary down- and up-scaling against the direct 2-D formula.
  Image src = pattern(23, 31, 3, 5);
  for (auto [h, w] : {std::pair{10, 7}, {40, 50}, {23, 12}, {5, 31}}) {
    Image r = resize_bilinear(src, h, w);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c)
          EXPECT_NEAR(r.at(y, x, c), reference_pixel(src, y, x, c, h, w), 1.01)
              << h << "x" << w << " at " << y << "," << x;
  }
}

TEST(DataImage, ShorterSideAndCenterCropFollowTorchvision) {
  int h, w;
  shorter_side_size(200, 300, 256, h, w);
  EXPECT_EQ(h, 256);
  EXPECT_EQ(w, 384);
  shorter_side_size(301, 200, 256, h, w);
  EXPECT_EQ(w, 256);
  EXPECT_EQ(h, 385);  // int(256 * 301 / 200) = int(385.28)
  Image img = pattern(5, 341, 1);
  Image c = center_crop(img, 3, 224);
  // top = round(1.0) = 1, left = round(58.5) = 58 (half to even).
  EXPECT_EQ(c.at(0, 0, 0), img.at(1, 58, 0));
  Image d = center_crop(pattern(5, 343, 1), 3, 224);
  EXPECT_EQ(d.at(0, 0, 0), pattern(5, 343, 1).at(1, 60, 0));  // round(59.5) = 60
  Image n = resize_nearest(pattern(4, 4, 1), 2, 2);
  EXPECT_EQ(n.at(1, 1, 0), pattern(4, 4, 1).at(3, 3, 0));  // int(1.5 * 2) = 3
}

TEST(DataImageFolder, SplitLayoutDecodesResizesAndCrops) {
  TempDir dir;
  std::string root = dir / "imgs";
  nsal::testing::write_bytes(root + "/train/cat/a.png", encode_png(pattern(12, 16, 3, 1)));
  nsal::testing::write_bytes(root + "/train/cat/b.jpg", encode_jpeg(pattern(10, 10, 3, 2)));
  nsal::testing::write_bytes(root + "/train/dog/c.png", encode_png(pattern(20, 10, 1, 3)));
  nsal::testing::write_text(root + "/train/dog/readme.txt", "not an image");
  nsal::testing::write_bytes(root + "/val/dog/d.png", encode_png(pattern(9, 9, 3, 4)));
  ImageFolderOptions fo;
  fo.resize = 8;
  fo.crop = 6;
  ConvertOptions o;
  o.output = dir / "f.h5";
  convert_image_folder(root, fo, o);
  ReadOptions r;
  r.x_as_float = false;
  Dataset tr = read_dataset(o.output, "train", r);
  EXPECT_EQ(tr.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(tr.x.shape(), (Shape{3, 3, 6, 6}));
  EXPECT_EQ(tr.y.to_vector(), (std::vector<double>{0, 0, 1}));
  // Sample 0 is a.png: 12x16 -> 8x10 (shorter side 8) -> center 6x6.
  Image a = resize_bilinear(pattern(12, 16, 3, 1), 8, 10);
  Image ac = center_crop(a, 6, 6);
  EXPECT_EQ(tr.x.at(0 * 36 + 2 * 6 + 3), ac.at(2, 3, 0));
  EXPECT_EQ(tr.x.at(2 * 36 + 5 * 6 + 5), ac.at(5, 5, 2));
  Dataset te = read_dataset(o.output, "test");
  EXPECT_EQ(te.y.to_vector(), (std::vector<double>{1}));

  // Kept as files: paths and labels, decoded later by the loader.
  fo.keep_files = true;
  o.output = dir / "files.h5";
  convert_image_folder(root, fo, o);
  Dataset kf = read_dataset(o.output, "train");
  EXPECT_TRUE(kf.images_as_files());
  EXPECT_EQ(kf.files,
            (std::vector<std::string>{"train/cat/a.png", "train/cat/b.jpg", "train/dog/c.png"}));
  EXPECT_EQ(kf.crop, 6);
  EXPECT_EQ(kf.sample_shape(), (Shape{3, 6, 6}));

  // A corrupt image names the file.
  auto png = encode_png(pattern(12, 12, 3));
  png.resize(png.size() / 2);
  nsal::testing::write_bytes(root + "/train/dog/broken.png", png);
  fo.keep_files = false;
  o.output = dir / "g.h5";
  expect_has(error_of([&] { convert_image_folder(root, fo, o); }),
             {"train/dog/broken.png", "corrupt PNG"});
  EXPECT_FALSE(nsal::testing::file_exists(o.output));
}

TEST(DataImageFolder, SingleFolderIsSplitPerClassBySeed) {
  TempDir dir;
  std::string root = dir / "caltech";
  for (int i = 0; i < 10; ++i)
    nsal::testing::write_bytes(root + "/faces/" + std::to_string(i) + ".png",
                               encode_png(pattern(4, 4, 3, i)));
  for (int i = 0; i < 5; ++i)
    nsal::testing::write_bytes(root + "/ant/" + std::to_string(i) + ".png",
                               encode_png(pattern(4, 4, 3, i)));
  nsal::testing::write_bytes(root + "/BACKGROUND_Google/x.png", encode_png(pattern(4, 4, 3)));
  nsal::testing::write_bytes(root + "/.ipynb_checkpoints/y.png", encode_png(pattern(4, 4, 3)));
  ImageFolderOptions fo;
  fo.test_fraction = 0.3;
  fo.seed = 7;
  fo.exclude_classes = {"BACKGROUND_Google"};
  ImageFolderListing l = list_image_folder(root, fo);
  EXPECT_EQ(l.classes, (std::vector<std::string>{"ant", "faces"}));
  EXPECT_EQ(l.test_files.size(), 2u + 3u);  // round(1.5) = 2 and 3 of 10
  EXPECT_EQ(l.train_files.size(), 3u + 7u);
  ImageFolderListing again = list_image_folder(root, fo);
  EXPECT_EQ(again.test_files, l.test_files);
  fo.seed = 8;
  EXPECT_NE(list_image_folder(root, fo).test_files, l.test_files);
  expect_has(error_of([&] { list_image_folder(dir / "none", fo); }), {"none", "not a folder"});
  fo.exclude_classes = {"BACKGROUND_Gogle"};  // misspelt: it would have been left in
  expect_has(error_of([&] { list_image_folder(root, fo); }),
             {"--exclude BACKGROUND_Gogle", "no such class folder"});
}

TEST(DataCityscapes, LabelIdsMapToTrainIds) {
  const auto& t = cityscapes_train_ids();
  EXPECT_EQ(t[7], 0);     // road
  EXPECT_EQ(t[26], 13);   // car
  EXPECT_EQ(t[33], 18);   // bicycle
  EXPECT_EQ(t[0], 255);   // unlabeled
  EXPECT_EQ(t[9], 255);   // parking is not evaluated
  EXPECT_EQ(t[34], 255);  // past the table
  int mapped = 0;
  for (int i = 0; i < 256; ++i)
    mapped += t[i] != 255;
  EXPECT_EQ(mapped, 19);

  TempDir dir;
  std::string root = dir / "cs";
  auto pair = [&](const std::string& split, const std::string& city, const std::string& stem,
                  const Image& labels) {
    nsal::testing::write_bytes(
        root + "/leftImg8bit/" + split + "/" + city + "/" + stem + "_leftImg8bit.png",
        encode_png(pattern(labels.height, labels.width, 3)));
    nsal::testing::write_bytes(
        root + "/gtFine/" + split + "/" + city + "/" + stem + "_gtFine_labelIds.png",
        encode_png(labels));
  };
  Image lab;
  lab.height = 4;
  lab.width = 8;
  lab.channels = 1;
  lab.pixels.assign(32, 7);
  lab.pixels[3] = 26;
  lab.pixels[4] = 0;
  lab.pixels[31] = 33;
  pair("train", "aachen", "a_000000_000019", lab);
  pair("train", "bochum", "b_000000_000019", lab);
  pair("val", "frankfurt", "f_000000_000019", lab);
  CityscapesOptions co;
  co.width = 8;
  co.height = 4;
  ConvertOptions o;
  o.output = dir / "cs.h5";
  convert_cityscapes(root, co, o);
  Dataset tr = read_dataset(o.output, "train");
  EXPECT_EQ(tr.task, Task::segmentation);
  EXPECT_EQ(tr.y.shape(), (Shape{2, 4, 8}));
  EXPECT_EQ(tr.y.at(0), 0);
  EXPECT_EQ(tr.y.at(3), 13);
  EXPECT_EQ(tr.y.at(4), 255);
  EXPECT_EQ(tr.y.at(31), 18);
  EXPECT_EQ(tr.class_names[18], "bicycle");
  EXPECT_EQ(read_dataset(o.output, "test").size(), 1);

  // Resized: masks by nearest neighbour keep only valid ids.
  co.width = 4;
  co.height = 2;
  o.output = dir / "small.h5";
  convert_cityscapes(root, co, o);
  const Dataset small = read_dataset(o.output, "train");
  EXPECT_EQ(small.x.shape(), (Shape{2, 3, 2, 4}));
  ASSERT_EQ(small.y.shape(), (Shape{2, 2, 4}));
  for (int64_t i = 0; i < small.y.numel(); ++i) {
    const int64_t v = static_cast<int64_t>(small.y.at(i));
    EXPECT_TRUE(v == 0 || v == 13 || v == 18 || v == 255) << "mask value " << v << " at " << i;
  }

  // A missing label map and a size mismatch name the files.
  nsal::testing::write_bytes(root + "/leftImg8bit/val/frankfurt/g_000000_000019_leftImg8bit.png",
                             encode_png(pattern(4, 8, 3)));
  o.output = dir / "bad.h5";
  expect_has(error_of([&] { convert_cityscapes(root, co, o); }),
             {"g_000000_000019_leftImg8bit.png", "no label map"});
  Image wide = lab;
  wide.width = 4;
  wide.pixels.resize(16);
  nsal::testing::write_bytes(root + "/gtFine/val/frankfurt/g_000000_000019_gtFine_labelIds.png",
                             encode_png(wide));
  expect_has(error_of([&] { convert_cityscapes(root, co, o); }),
             {"g_000000_000019_leftImg8bit.png is 8x4", "label map", "is 4x4"});
}

}  // namespace nsal::data
