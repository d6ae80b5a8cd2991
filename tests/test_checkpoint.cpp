// Checkpoints: bit-exact round trips (parameters, buffers, optimizer state, dropout steps, meta),
// resuming gives the same next step, and every kind of bad file raises one DataError naming it.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <random>

#include "gradcheck.h"
#include "nn/checkpoint.h"
#include "nn/hdf5.h"
#include "nn/layers/dropout.h"
#include "nn/losses.h"
#include "nn/models/registry.h"
#include "test_data_util.h"
#include "tests/tensor_bytes.h"

namespace nsal {

using testing::TempDir;

namespace {

using testing::bytes_of;

std::vector<uint64_t> dropout_steps(const Model& m) {
  std::vector<uint64_t> v;
  for (const auto& l : m.layers())
    if (auto* d = dynamic_cast<const Dropout*>(l.get())) v.push_back(d->step());
  return v;
}

// Training steps on random data, so that BN statistics, optimizer state and dropout steps move.
void train_steps(Model& m, Optimizer& opt, const Shape& in_shape, int steps, uint64_t seed) {
  Context ctx;
  std::mt19937_64 rng(seed);
  m.set_training(true);
  CrossEntropyLoss ce;
  for (int s = 0; s < steps; ++s) {
    Tensor x(in_shape, m.arena().dtype());
    testing::fill_uniform(x, rng);
    std::vector<double> labels;
    for (int64_t i = 0; i < in_shape[0]; ++i)
      labels.push_back(static_cast<double>(rng() % m.num_outputs()));
    Tensor y = Tensor::from_vector(labels, {in_shape[0]}, DType::i32);
    opt.zero_grad(ctx);
    ce.forward(ctx, m.forward(ctx, x), y);
    m.backward(ctx, ce.backward(ctx));
    opt.step(ctx);
  }
}

void expect_same_state(Model& a, Model& b, Optimizer* oa, Optimizer* ob) {
  EXPECT_EQ(bytes_of(a.arena().params()), bytes_of(b.arena().params()));
  if (!a.arena().buffer_infos().empty()) {
    EXPECT_EQ(bytes_of(a.arena().buffers()), bytes_of(b.arena().buffers()));
  }
  EXPECT_EQ(dropout_steps(a), dropout_steps(b));
  if (oa && ob) {
    auto sa = oa->state(), sb = ob->state();
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i)
      EXPECT_EQ(bytes_of(*sa[i].second), bytes_of(*sb[i].second)) << sa[i].first;
    EXPECT_EQ(oa->steps_taken(), ob->steps_taken());
    EXPECT_EQ(oa->lr(), ob->lr());
  }
}

// Expects a DataError whose message names the file and contains every piece of `parts`.
template <typename F>
void expect_data_error(F&& f, const std::string& path, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no DataError for " << path;
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

}  // namespace

TEST(Checkpoint, RoundTripIsBitExactAndResumesIdentically) {
  TempDir dir;
  const std::string path = dir / "ckpt.h5";
  const Shape in{4, 3, 16, 16};
  auto a = make_model({"mobilenet-v2", 3, 5});
  a->build(Device::cpu(), 7);
  Sgd oa(a->arena(), SgdOptions{0.05f, 0.9f, 0.0f, 5e-4f, false});
  train_steps(*a, oa, in, 2, 1);
  oa.set_lr(0.0125f);
  CheckpointMeta meta;
  meta.epoch = 3;
  meta.seed = 0xfedcba9876543210ull;  // above 2^63: stored as int64 bits
  meta.extra["cycle"] = "2";
  save_checkpoint(path, *a, &oa, meta);

  auto b = make_model({"mobilenet-v2", 3, 5});
  b->build(Device::cpu(), 99);  // other weights, overwritten by the load
  Sgd ob(b->arena(), SgdOptions{});
  CheckpointInfo info = load_checkpoint(path, *b, &ob);
  EXPECT_EQ(info.spec.arch, "mobilenet-v2");
  EXPECT_EQ(info.spec.in_channels, 3);
  EXPECT_EQ(info.spec.classes, 5);
  EXPECT_EQ(info.meta.epoch, 3);
  EXPECT_EQ(info.meta.seed, 0xfedcba9876543210ull);
  EXPECT_EQ(info.meta.extra.at("cycle"), "2");
  EXPECT_EQ(info.nsal_version, NSAL_VERSION);
  EXPECT_EQ(info.dtype, "float32");
  EXPECT_EQ(info.optimizer, "sgd");
  EXPECT_EQ(info.optimizer_steps, 2);
  EXPECT_EQ(dropout_steps(*a), (std::vector<uint64_t>{2}));
  expect_same_state(*a, *b, &oa, &ob);

  // The next step is the same on the original and on the loaded copy (momentum, BN statistics
  // and the dropout mask included).
  train_steps(*a, oa, in, 1, 2);
  train_steps(*b, ob, in, 1, 2);
  expect_same_state(*a, *b, &oa, &ob);

  // PyTorch layouts: num_batches_tracked is an int64 scalar.
  h5::File f = h5::File::open(path);
  h5::Dataset nbt = f.open_group("buffers").open_dataset("features.0.1.num_batches_tracked");
  EXPECT_EQ(nbt.shape(), Shape{});
  EXPECT_EQ(nbt.type(), h5::Type::i64);
  EXPECT_EQ(nbt.read_all<int64_t>(), std::vector<int64_t>{2});
  EXPECT_EQ(f.open_group("params").open_dataset("features.2.conv.1.0.weight").shape(),
            (Shape{96, 1, 3, 3}));
  EXPECT_EQ(
      f.open_group("optimizer").open_group("per_param").open_group("momentum_buffer").children(),
      f.open_group("params").children());
}

TEST(Checkpoint, AdamStateAndWeightsOnlyLoads) {
  TempDir dir;
  const std::string path = dir / "adam.h5";
  auto a = make_model({"mnist-cnn", 1, 10});
  a->build(Device::cpu(), 3);
  Adam oa(a->arena(), AdamOptions{});
  train_steps(*a, oa, {3, 1, 28, 28}, 2, 5);
  save_checkpoint(path, *a, &oa, {});
  EXPECT_EQ(dropout_steps(*a), (std::vector<uint64_t>{2, 2, 2}));

  auto b = make_model({"mnist-cnn", 1, 10});
  b->build(Device::cpu(), 4);
  Adam ob(b->arena(), AdamOptions{});
  load_checkpoint(path, *b, &ob);
  expect_same_state(*a, *b, &oa, &ob);

  // Weights only: the optimizer state in the file is ignored.
  auto c = make_model({"mnist-cnn", 1, 10});
  c->build(Device::cpu(), 5);
  load_checkpoint(path, *c);
  expect_same_state(*a, *c, nullptr, nullptr);
}

// SGD without momentum has no state: its checkpoint holds none and loads back.
TEST(Checkpoint, SgdWithoutMomentumHasNoState) {
  TempDir dir;
  const std::string path = dir / "plain.h5";
  auto a = make_model({"mnist-cnn", 1, 10});
  a->build(Device::cpu(), 3);
  Sgd oa(a->arena(), SgdOptions{0.05f, 0.0f, 0.0f, 0.0f, false});
  EXPECT_TRUE(oa.state().empty());
  train_steps(*a, oa, {3, 1, 28, 28}, 2, 5);
  save_checkpoint(path, *a, &oa, {});
  auto b = make_model({"mnist-cnn", 1, 10});
  b->build(Device::cpu(), 4);
  Sgd ob(b->arena(), SgdOptions{0.05f, 0.0f, 0.0f, 0.0f, false});
  load_checkpoint(path, *b, &ob);
  expect_same_state(*a, *b, &oa, &ob);
}

TEST(Checkpoint, OptimizerStateLoadsFromSlicesWhenTheLayoutDiffers) {
  TempDir dir;
  const std::string path = dir / "layout.h5";
  ModelSpec spec{"mlp", 6, 2, {9, 5}};
  auto a = make_model(spec);
  a->build(Device::cpu(), 3);
  Sgd oa(a->arena(), SgdOptions{});
  train_steps(*a, oa, {4, 6}, 3, 8);
  save_checkpoint(path, *a, &oa, {});
  {
    // Pretend another nsal version laid the arena out differently: the flat state no longer
    // applies and the loader must use the per-parameter slices.
    h5::File f = h5::File::open(path, /*writable=*/true);
    h5::Dataset offs = f.open_group("optimizer").open_dataset("layout_offsets");
    std::vector<double> v = offs.read_all<double>();
    v[1] += 64;
    offs.write(v.data(), h5::Type::f64);
    h5::Dataset flat = f.open_group("optimizer").open_group("flat").open_dataset("momentum_buffer");
    std::vector<float> junk(static_cast<size_t>(flat.numel()), 1e30f);
    flat.write(junk.data(), h5::Type::f32);
  }
  auto b = make_model(spec);
  b->build(Device::cpu(), 4);
  Sgd ob(b->arena(), SgdOptions{});
  load_checkpoint(path, *b, &ob);
  expect_same_state(*a, *b, &oa, &ob);
}

TEST(Checkpoint, Float64ModelsLoadIntoFloat32) {
  TempDir dir;
  const std::string path = dir / "f64.h5";
  auto a = make_model({"resnet18-cifar", 3, 10});
  a->build(Device::cpu(), 3, DType::f64);
  save_checkpoint(path, *a, nullptr, {});
  EXPECT_EQ(read_checkpoint_info(path).dtype, "float64");
  auto b = make_model({"resnet18-cifar", 3, 10});
  b->build(Device::cpu(), 4);
  load_checkpoint(path, *b);
  std::vector<double> pa = a->arena().params().to_vector(), pb = b->arena().params().to_vector();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    ASSERT_EQ(static_cast<float>(pa[i]), static_cast<float>(pb[i])) << i;
}

TEST(Checkpoint, BadFilesRaiseDataErrorNamingTheFile) {
  TempDir dir;
  const std::string good = dir / "good.h5";
  auto m = make_model({"mlp", 8, 3});
  m->build(Device::cpu(), 1);
  save_checkpoint(good, *m, nullptr, {});
  std::vector<uint8_t> bytes = testing::read_bytes(good);
  auto fresh = [] {
    auto x = make_model({"mlp", 8, 3});
    x->build(Device::cpu(), 2);
    return x;
  };

  const std::string missing = dir / "missing.h5";
  expect_data_error([&] { load_checkpoint(missing, *fresh()); }, missing, {});

  const std::string text = dir / "text.h5";
  testing::write_text(text, "not an HDF5 file\n");
  expect_data_error([&] { load_checkpoint(text, *fresh()); }, text, {});

  const std::string truncated = dir / "truncated.h5";
  testing::write_bytes(truncated,
                       std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  expect_data_error([&] { load_checkpoint(truncated, *fresh()); }, truncated, {});

  // Garbage over a stretch of the parameter data: the Fletcher-32 checksums catch it.
  const std::string corrupt = dir / "corrupt.h5";
  std::vector<uint8_t> bad = bytes;
  for (size_t i = bad.size() / 2; i < bad.size() / 2 + 4096 && i < bad.size(); ++i)
    bad[i] ^= 0x5a;
  testing::write_bytes(corrupt, bad);
  auto target = fresh();
  std::vector<uint8_t> before = bytes_of(target->arena().params());
  expect_data_error([&] { load_checkpoint(corrupt, *target); }, corrupt, {});
  EXPECT_EQ(bytes_of(target->arena().params()), before);  // nothing changed

  const std::string other = dir / "other.h5";
  {
    h5::File f = h5::File::create(other);
    f.set_string("task", "classification");
  }
  expect_data_error([&] { load_checkpoint(other, *fresh()); }, other, {"not an nsal checkpoint"});

  auto cnn = make_model({"mnist-cnn", 1, 10});
  cnn->build(Device::cpu(), 1);
  expect_data_error([&] { load_checkpoint(good, *cnn); }, good, {"'mlp'", "'mnist-cnn'"});

  Sgd sgd(m->arena(), SgdOptions{});
  auto with_opt = fresh();
  Sgd sgd2(with_opt->arena(), SgdOptions{});
  expect_data_error([&] { load_checkpoint(good, *with_opt, &sgd2); }, good, {"no optimizer state"});
  const std::string sgd_path = dir / "sgd.h5";
  save_checkpoint(sgd_path, *m, &sgd, {});
  Adam adam(with_opt->arena(), AdamOptions{});
  expect_data_error([&] { load_checkpoint(sgd_path, *with_opt, &adam); }, sgd_path,
                    {"'sgd'", "'adam'"});

  EXPECT_THROW(save_checkpoint(good, *m, nullptr, {}, {/*overwrite=*/false}), DataError);
}

TEST(Checkpoint, MismatchesAreListedInOneError) {
  TempDir dir;
  const std::string path = dir / "names.h5";
  auto m = make_model({"mlp", 8, 3});
  m->build(Device::cpu(), 1);
  save_checkpoint(path, *m, nullptr, {});
  {
    h5::File f = h5::File::open(path, /*writable=*/true);
    h5::Group p = f.open_group("params");
    ASSERT_GE(H5Ldelete(p.id(), "fc1.weight", H5P_DEFAULT), 0);
    ASSERT_GE(H5Lmove(p.id(), "fc2.bias", p.id(), "fc2.b", H5P_DEFAULT, H5P_DEFAULT), 0);
    ASSERT_GE(H5Ldelete(p.id(), "head.weight", H5P_DEFAULT), 0);
    p.write_tensor("head.weight", Tensor::zeros({3, 65}));
  }
  auto target = make_model({"mlp", 8, 3});
  target->build(Device::cpu(), 2);
  std::vector<uint8_t> before = bytes_of(target->arena().params());
  expect_data_error([&] { load_checkpoint(path, *target); }, path,
                    {"2 missing: params/fc1.weight, params/fc2.bias", "1 unexpected: params/fc2.b",
                     "1 wrong-shaped: params/head.weight (file (3, 65), model (3, 64))"});
  EXPECT_EQ(bytes_of(target->arena().params()), before);

  // Another number of classes: the spec and the head's shapes are reported together.
  const std::string good = dir / "good.h5";
  save_checkpoint(good, *m, nullptr, {});
  auto four = make_model({"mlp", 8, 4});
  four->build(Device::cpu(), 2);
  expect_data_error([&] { load_checkpoint(good, *four); }, good,
                    {"classes 3", "params/head.weight (file (3, 64), model (4, 64))",
                     "params/head.bias (file (3,), model (4,))"});

  // A dropout layer whose RNG state the file lacks (written before the model had that layer,
  // as mlp checkpoints from before its dropout) keeps its own state; the others load theirs.
  auto cnn = make_model({"mnist-cnn", 1, 10});
  cnn->build(Device::cpu(), 1);
  const std::string drop = dir / "drop.h5";
  save_checkpoint(drop, *cnn, nullptr, {});
  {
    h5::File f = h5::File::open(drop, /*writable=*/true);
    h5::Group d = f.open_group("rng").open_group("dropout");
    ASSERT_GE(H5Ldelete(d.id(), "fc1_drop", H5P_DEFAULT), 0);
  }
  auto other = make_model({"mnist-cnn", 1, 10});
  other->build(Device::cpu(), 9);
  auto seed_of = [](Model& model, const std::string& name) {
    for (const auto& l : model.layers())
      if (l->name() == name) return dynamic_cast<Dropout&>(*l).seed();
    return uint64_t{0};
  };
  const uint64_t own = seed_of(*other, "fc1_drop");
  load_checkpoint(drop, *other);
  EXPECT_EQ(seed_of(*other, "fc1_drop"), own);
  EXPECT_EQ(seed_of(*other, "conv1_drop"), seed_of(*cnn, "conv1_drop"));
  EXPECT_EQ(other->arena().params().to_vector(), cnn->arena().params().to_vector());
}

}  // namespace nsal
