// Each strategy on a hand-built case whose answer is known. The model is a linear map whose
// weights are set by hand, so the outputs (logits) of each sample are chosen by the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "al/strategy.h"
#include "kernels/select.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"
#include "tests/layer_test_util.h"

namespace nsal::al {

namespace {

using nsal::testing::expect_error_mentions;

// logits = W x + b with W = identity and b = 0 after build(); optional dropout on the input.
class IdentityModel : public Model {
 public:
  IdentityModel(int64_t c, double dropout) : Model("identity"), c_(c) {
    if (dropout > 0) body_.push(add<Dropout>("drop", dropout));
    linear_ = add<Linear>("fc", c, c);
    body_.push(linear_);
  }
  void set_identity() {
    float* w = linear_->weight().data<float>();
    for (int64_t i = 0; i < c_ * c_; ++i)
      w[i] = (i % (c_ + 1) == 0) ? 1.0f : 0.0f;
    float* b = arena().params().data<float>() + arena().find_param("fc.bias")->offset;
    for (int64_t i = 0; i < c_; ++i)
      b[i] = 0.0f;
  }
  Shape input_shape() const override { return {c_}; }
  int64_t num_outputs() const override { return c_; }

 protected:
  const Tensor& forward_impl(Context& ctx, const Tensor& x) override {
    check_input(ctx, x);
    return body_.forward(ctx, x);
  }
  void backward_impl(Context& ctx, const Tensor& d) override { body_.backward(ctx, d); }

 public:
  const Tensor& features() const override { return linear_->output(); }

 private:
  int64_t c_;
  Sequential body_;
  Linear* linear_;
};

data::Dataset logits_dataset(const std::vector<std::vector<float>>& rows) {
  data::Dataset d;
  d.task = data::Task::classification;
  d.num_classes = static_cast<int>(rows[0].size());
  d.split = "train";
  int64_t n = static_cast<int64_t>(rows.size()), c = d.num_classes;
  d.x = Tensor({n, c});
  d.y = Tensor::zeros({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      d.x.data<float>()[i * c + j] = rows[i][j];
  return d;
}

struct Fixture {
  data::Dataset d;
  IdentityModel model;
  Context ctx;
  std::vector<int64_t> labelled, candidates;
  Fixture(const std::vector<std::vector<float>>& rows, double dropout = 0)
      : d(logits_dataset(rows)), model(static_cast<int64_t>(rows[0].size()), dropout) {
    model.build(Device::cpu(), 1);
    model.set_identity();
    model.set_training(false);
    for (int64_t i = 0; i < static_cast<int64_t>(rows.size()); ++i)
      candidates.push_back(i);
  }
  Acquisition run(const StrategyConfig& cfg, int64_t budget, uint64_t seed = 5) {
    AcquisitionInput in{model, ctx, d, labelled, candidates, budget, 4, seed};
    return make_strategy(cfg)->acquire(in);
  }
};

StrategyConfig named(const std::string& name) {
  StrategyConfig c;
  c.name = name;
  return c;
}

}  // namespace

TEST(Strategies, UncertaintyBaselinesPickTheAmbiguousSamples) {
  // 0 confident, 1 uniform over three classes, 2 split between two, 3 fairly confident.
  Fixture f({{9, 0, 0}, {1, 1, 1}, {2, 2, -5}, {3, 0, 0}});
  EXPECT_EQ(f.run(named("entropy"), 2).selected, (std::vector<int64_t>{1, 2}));
  // Margins: 1 and 2 both have a zero gap between their two best classes; ties go to the lower.
  EXPECT_EQ(f.run(named("margin"), 2).selected, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(f.run(named("least-confidence"), 1).selected, (std::vector<int64_t>{1}));
  Acquisition e = f.run(named("entropy"), 1);
  ASSERT_EQ(e.scores.size(), 4u);
  EXPECT_GT(e.scores[1], e.scores[2]);
  EXPECT_GT(e.scores[2], e.scores[3]);
  EXPECT_GT(e.scores[3], e.scores[0]);
}

TEST(Strategies, RandomIsSeededAndDistinct) {
  std::vector<std::vector<float>> rows(50, std::vector<float>{0, 0});
  Fixture f(rows);
  Acquisition a = f.run(named("random"), 10, 1), b = f.run(named("random"), 10, 1),
              c = f.run(named("random"), 10, 2);
  EXPECT_EQ(a.selected, b.selected);
  EXPECT_NE(a.selected, c.selected);
  EXPECT_EQ(std::set<int64_t>(a.selected.begin(), a.selected.end()).size(), 10u);
}

TEST(Strategies, CoresetPicksTheFarthestFromTheLabelledSet) {
  // Features are the inputs. Labelled: sample 0 at the origin. Candidates on a line.
  Fixture f({{0, 0}, {1, 0}, {5, 0}, {2, 0}, {-3, 0}});
  f.labelled = {0};
  f.candidates = {1, 2, 3, 4};
  // First the farthest from 0 (5); then from {0, 5}: -3 (distance 3) beats 2 (distance 2).
  EXPECT_EQ(f.run(named("coreset"), 2).selected, (std::vector<int64_t>{2, 4}));
}

TEST(Strategies, BaldPrefersSamplesWhosePredictionDependsOnTheDroppedWeights) {
  // With dropout on the input, an all-zero sample always gives the same (uniform) prediction:
  // high entropy but no disagreement between passes. Sample 1's prediction flips with the mask.
  Fixture f({{0, 0}, {4, -4}, {0.01f, 0}}, /*dropout=*/0.5);
  StrategyConfig bald = named("bald");
  bald.mc_passes = 40;
  Acquisition a = f.run(bald, 1);
  EXPECT_EQ(a.selected, (std::vector<int64_t>{1}));
  EXPECT_NEAR(a.scores[0], 0.0, 1e-6);
  StrategyConfig mc = named("mc-dropout");
  mc.mc_passes = 40;
  // Entropy of the mean: sample 0 is exactly uniform (log 2), the most uncertain.
  EXPECT_EQ(f.run(mc, 1).selected, (std::vector<int64_t>{0}));
  Fixture plain({{0, 0}, {1, 0}});
  expect_error_mentions([&] { plain.run(mc, 1); }, {"no dropout layer"});
}

TEST(Strategies, NoiseStabilityPicksTheLargestJacobian) {
  // f = W x + b: the Jacobian's squared norm is C (||x||^2 + 1), so R(x) grows with ||x||.
  Fixture f({{0.1f, 0}, {3, 4}, {1, 1}, {0, -2}});
  StrategyConfig ns = named("noise-stability");
  ns.ns.output = "logits";
  ns.ns.magnitude = "constant";
  ns.ns.draws = 50;
  ns.ns.lambda = 0.01;
  Acquisition a = f.run(ns, 2);
  EXPECT_EQ(a.selected, (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(a.timing.empty());
  // released: k-center from the origin over (f_k - f) / ||f||; the first pick is the row with
  // the longest deviation vector, here the sample with the smallest output norm.
  StrategyConfig rel = ns;
  rel.ns.preset = "released";
  rel.ns.magnitude = "adaptive";
  Acquisition r = f.run(rel, 1);
  EXPECT_EQ(r.selected, (std::vector<int64_t>{0}));
}

// al::kcenter_rows on a GPU context: tests/test_cuda_al.cpp.
TEST(Strategies, KCenterRowsRefusesRowsItCannotUse) {
  Context ctx;
  expect_error_mentions([&] { kcenter_rows(ctx, Tensor({10}), {}, 2); },
                        {"(N, D)", "(10,)"});  // not (N, D)
  expect_error_mentions(
      [&] {
        kcenter_rows(ctx, Tensor({10, 3}, DType::f64), {}, 2);
      },
      {"float32", "float64"});  // not float32
}

TEST(Strategies, BudgetLargerThanThePoolIsAnError) {
  Fixture f({{0, 0}, {1, 1}});
  expect_error_mentions([&] { f.run(named("random"), 3); }, {"asked for 3", "only 2"});
  EXPECT_TRUE(f.run(named("entropy"), 0).selected.empty());
}

}  // namespace nsal::al
