// The real dataset: Fashion-MNIST from Debian's dataset-fashion-mnist package.
#include <gtest/gtest.h>

#include "data/idx.h"
#include "tests/test_data_util.h"

namespace nsal::data {

TEST(DataFashionMnist, DebianPackageConvertsTo60000And10000) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!nsal::testing::file_exists(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << dir << " not found: install the Debian package dataset-fashion-mnist";
  nsal::testing::TempDir tmp;
  ConvertOptions o;
  o.output = tmp / "fashion-mnist.h5";
  convert_idx(find_idx_files(dir), o, "fashion-mnist");
  ReadOptions labels;
  labels.load_x = false;
  Dataset train = read_dataset(o.output, "train", labels);
  Dataset test = read_dataset(o.output, "test", labels);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(class_counts(train), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(class_counts(test), std::vector<int64_t>(10, 1000));
  EXPECT_EQ(train.class_names[0], "T-shirt/top");
  // Fashion-MNIST's pixel mean is about 0.286 and its std about 0.353.
  ASSERT_EQ(train.mean.size(), 1u);
  EXPECT_NEAR(train.mean[0], 0.2860, 1e-3);
  EXPECT_NEAR(train.std[0], 0.3530, 1e-3);
}

}  // namespace nsal::data
