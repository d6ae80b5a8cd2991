#include "nn/optim/lr_schedule.h"

#include <cmath>

#include "kernels/error.h"

namespace nsal {

double LrSchedule::lr_at(int epoch) const {
  switch (kind) {
    case Kind::constant:
      return base_lr;
    case Kind::multistep: {
      double lr = base_lr;
      for (int m : milestones)
        if (epoch >= m) lr *= gamma;
      return lr;
    }
    case Kind::cosine: {
      const double pi = 3.14159265358979323846;
      int t = epoch < total_epochs ? epoch : total_epochs;
      return min_lr + (base_lr - min_lr) * (1 + std::cos(pi * t / total_epochs)) / 2;
    }
  }
  return base_lr;
}

LrSchedule LrSchedule::parse(const std::string& kind, double base_lr, int total_epochs,
                             std::vector<int> milestones, double gamma) {
  LrSchedule s;
  s.base_lr = base_lr;
  s.total_epochs = total_epochs;
  s.milestones = std::move(milestones);
  s.gamma = gamma;
  if (kind == "constant") {
    s.kind = Kind::constant;
  } else if (kind == "multistep") {
    s.kind = Kind::multistep;
  } else if (kind == "cosine") {
    NSAL_CHECK(total_epochs > 0, "lr schedule 'cosine': epochs must be positive");
    s.kind = Kind::cosine;
  } else {
    throw Error("lr schedule: expected 'constant', 'multistep' or 'cosine', got '" + kind + "'");
  }
  return s;
}

}  // namespace nsal
