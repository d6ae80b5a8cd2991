// Learning-rate schedules, evaluated in closed form per epoch (as PyTorch's MultiStepLR and
// CosineAnnealingLR), so that a resumed run gets the same rate without replaying steps.
#pragma once

#include <string>
#include <vector>

namespace nsal {

struct LrSchedule {
  enum class Kind { constant, multistep, cosine } kind = Kind::constant;
  double base_lr = 0.1;
  std::vector<int> milestones;  // multistep: epochs at which lr *= gamma
  double gamma = 0.1;
  int total_epochs = 1;  // cosine: T_max
  double min_lr = 0.0;   // cosine: eta_min

  double lr_at(int epoch) const;  // epoch counted from 0
  static LrSchedule parse(const std::string& kind, double base_lr, int total_epochs,
                          std::vector<int> milestones = {}, double gamma = 0.1);
};

}  // namespace nsal
