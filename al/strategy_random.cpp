// random: a seeded uniform draw of the budget from the candidates.
#include "al/seeds.h"
#include "al/strategy.h"

namespace nsal::al {

namespace {
class RandomStrategy : public Strategy {
 public:
  std::string name() const override { return "random"; }

 protected:
  Acquisition select(const AcquisitionInput& in) override {
    Acquisition a;
    std::vector<int64_t> order = seeded_shuffle(in.candidates, in.seed);
    a.selected.assign(order.begin(), order.begin() + in.budget);
    return a;
  }
};
}  // namespace

std::unique_ptr<Strategy> make_random_strategy() {
  return std::make_unique<RandomStrategy>();
}

}  // namespace nsal::al
