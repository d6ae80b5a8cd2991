// Learning-curve figures drawn with cairo: metric against labelled count, one line per strategy
// (mean over trials) with a shaded band from the lowest to the highest trial, markers at each
// cycle, round-numbered axis ticks, a legend and a title. PNG and SVG.
#pragma once

#include <string>
#include <vector>

#include "al/report_summary.h"

namespace nsal::al {

// A round step (1, 2 or 5 times a power of ten) that cuts `range` into about `target` parts:
// nice_step(1234, 6) == 200, nice_step(1, 6) == 0.2.
double nice_step(double range, int target = 6);

struct AxisTicks {
  double lo = 0, hi = 1;  // the axis range
  double step = 0.2;
  std::vector<double> values;  // multiples of step within [lo, hi]
};
// Ticks for data spanning [lo, hi]. `extend`: the axis grows to the enclosing multiples of the
// step (ticks at both ends); otherwise it is [lo, hi] and the ticks are those inside. A zero
// range is widened first.
AxisTicks nice_ticks(double lo, double hi, int target = 6, bool extend = true);
// A tick value with as many decimals as the step needs ("0.2", "1400", "12.5").
std::string tick_label(double value, double step);

struct PlotOptions {
  int width = 900, height = 600;
  std::string title;
};

// Colourblind-friendly line colour k (Okabe and Ito's palette), as 0xRRGGBB.
unsigned strategy_colour(size_t k);

// Write the figure; errors name the file. The file is written whole under a temporary name,
// then renamed.
void write_learning_curves_png(const std::string& path, const Summary& s, const PlotOptions& o);
void write_learning_curves_svg(const std::string& path, const Summary& s, const PlotOptions& o);

}  // namespace nsal::al
