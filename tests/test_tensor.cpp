#include <gtest/gtest.h>

#include "nn/tensor.h"

namespace nsal {

TEST(Tensor, OwningTensorHasContiguousStrides) {
  Tensor t({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.owns_storage());
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_THROW(t.dim(3), ShapeError);
}

TEST(Tensor, CloneIsDeepAndViewsShareMemory) {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor c = t.clone();
  Tensor v = t.reshaped({3, 2});
  t.data<float>()[0] = 42;
  EXPECT_EQ(c.at(0), 1);
  EXPECT_EQ(v.at(0), 42);
  EXPECT_FALSE(v.owns_storage());
  Tensor row = t.slice0(1, 2);
  EXPECT_EQ(row.shape(), (Shape{1, 3}));
  EXPECT_EQ(row.at(0), 4);
}

TEST(Tensor, WrongDtypeAccessThrows) {
  Tensor t({4}, DType::f64);
  EXPECT_THROW(t.data<float>(), ShapeError);
  EXPECT_NO_THROW(t.data<double>());
}

TEST(Tensor, ReshapeChecksElementCount) {
  Tensor t({2, 6});
  EXPECT_EQ(t.reshaped({-1, 3}).shape(), (Shape{4, 3}));
  EXPECT_THROW(t.reshaped({5, 3}), ShapeError);
}

TEST(Tensor, ResizeReusesStorageWhenLargeEnough) {
  Tensor t({100});
  void* p = t.raw();
  t.resize({10, 5}, DType::f32, Device::cpu());
  EXPECT_EQ(t.raw(), p);
  t.resize({1000}, DType::f32, Device::cpu());
  EXPECT_EQ(t.numel(), 1000);
}

TEST(Tensor, DtypeConversionRoundTrips) {
  Tensor t = Tensor::from_vector({1.5, -2.25, 3}, {3}, DType::f64);
  Tensor f = t.to_dtype(DType::f32);
  EXPECT_EQ(f.dtype(), DType::f32);
  EXPECT_EQ(f.to_vector(), (std::vector<double>{1.5, -2.25, 3}));
  Tensor back = f.to_dtype(DType::f64);
  EXPECT_EQ(back.dtype(), DType::f64);
  EXPECT_EQ(back.to_vector(), t.to_vector());
  // Not representable in float: rounded to nearest on the way down.
  Tensor third = Tensor::from_vector({1.0 / 3}, {1}, DType::f64).to_dtype(DType::f32);
  EXPECT_EQ(third.to_vector()[0], static_cast<double>(1.0f / 3));
}

TEST(Tensor, CopyFromChecksShape) {
  Tensor a({2, 2}), b({4});
  EXPECT_THROW(a.copy_from(b), ShapeError);
}

}  // namespace nsal

namespace nsal {
TEST(Tensor, ShapesThatCannotBeIndexedAreRefused) {
  EXPECT_THROW(Tensor({2, -1}), ShapeError);
  // Strides are products of the trailing dimensions; an empty tensor gets no pass for them.
  EXPECT_THROW(Tensor({0, int64_t{1} << 40, int64_t{1} << 40}, DType::u8), ShapeError);
  Tensor empty({0, 1 << 20, 1 << 10}, DType::u8);
  EXPECT_EQ(empty.numel(), 0);
}
}  // namespace nsal
