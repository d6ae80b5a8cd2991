#include "al/report_plot.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>

#include "al/atomic_file.h"
#include "kernels/error.h"

namespace nsal::al {

double nice_step(double range, int target) {
  NSAL_CHECK(range > 0 && std::isfinite(range) && target > 0,
             "nice_step: needs a positive finite range and target, got {} and {}", range, target);
  const double raw = range / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;  // in [1, 10)
  // The nearest of 1, 2, 5, 10 on a log scale (boundaries at their geometric means).
  double m = 10;
  if (norm < std::sqrt(2.0))
    m = 1;
  else if (norm < std::sqrt(10.0))
    m = 2;
  else if (norm < std::sqrt(50.0))
    m = 5;
  return m * magnitude;
}

AxisTicks nice_ticks(double lo, double hi, int target, bool extend) {
  NSAL_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "nice_ticks: bad range [{}, {}]",
             lo, hi);
  if (hi == lo) {  // one value: a small range around it
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  AxisTicks t;
  t.step = nice_step(hi - lo, target);
  const double eps = t.step * 1e-9;
  const double first = std::ceil((lo - eps) / t.step), last = std::floor((hi + eps) / t.step);
  if (extend) {
    t.lo = std::floor((lo + eps) / t.step) * t.step;
    t.hi = std::ceil((hi - eps) / t.step) * t.step;
  } else {
    t.lo = lo;
    t.hi = hi;
  }
  const double k0 = extend ? std::round(t.lo / t.step) : first;
  const double k1 = extend ? std::round(t.hi / t.step) : last;
  for (double k = k0; k <= k1; k += 1)
    t.values.push_back(k * t.step);
  return t;
}

std::string tick_label(double value, double step) {
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  if (std::fabs(value) < step * 1e-6) value = 0;  // no "-0"
  return fmt::format("{:.{}f}", value, decimals);
}

unsigned strategy_colour(size_t k) {
  // Okabe & Ito (2008), ordered for contrast on white, yellow last; then Tol's wine and teal,
  // so that all nine strategies (and one more) get colours of their own.
  static const unsigned palette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0xE69F00,
                                     0x56B4E9, 0x000000, 0xF0E442, 0x882255, 0x44AA99};
  return palette[k % (sizeof(palette) / sizeof(palette[0]))];
}

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Rgb {
  double r, g, b;
};
Rgb rgb(unsigned hex) {
  return {((hex >> 16) & 255) / 255.0, ((hex >> 8) & 255) / 255.0, (hex & 255) / 255.0};
}
const Rgb kInk = rgb(0x222222), kGrey = rgb(0x666666), kGrid = rgb(0xE3E3E3);

struct Rect {
  double x0, y0, x1, y1;
  bool contains(double x, double y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

class Figure {
 public:
  Figure(cairo_t* cr, const Summary& s, const PlotOptions& o)
      : cr_(cr), s_(s), o_(o), f_(value_format(s)) {
    sc_ = std::min(o.width / 900.0, o.height / 600.0);
  }

  void draw() {
    set_colour(rgb(0xFFFFFF));
    cairo_paint(cr_);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr_, CAIRO_LINE_CAP_ROUND);
    compute_axes();
    layout();
    draw_title();
    draw_grid_and_axes();
    cairo_save(cr_);
    cairo_rectangle(cr_, plot_.x0, plot_.y0, plot_.x1 - plot_.x0, plot_.y1 - plot_.y0);
    cairo_clip(cr_);
    for (size_t k = 0; k < s_.curves.size(); ++k)
      draw_band(k);
    for (size_t k = 0; k < s_.curves.size(); ++k)
      draw_line(k);
    cairo_restore(cr_);
    for (size_t k = 0; k < s_.curves.size(); ++k)
      draw_markers(k);
    draw_legend();
  }

 private:
  // Text anchored at (x, y): ax 0/0.5/1 = left/centre/right, ay 0/0.5/1 = top/middle/bottom.
  double text(const std::string& t, double x, double y, double size, bool bold, double ax,
              double ay, Rgb c, double angle = 0) {
    font(size, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr_, t.c_str(), &te);
    cairo_font_extents_t fe;
    cairo_font_extents(cr_, &fe);
    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    cairo_rotate(cr_, angle);
    const double top = fe.ascent, bottom = -fe.descent;
    const double base = ay * bottom + (1 - ay) * top;
    cairo_move_to(cr_, -ax * te.x_advance, base);
    set_colour(c);
    cairo_show_text(cr_, t.c_str());
    cairo_restore(cr_);
    return te.x_advance;
  }
  double text_width(const std::string& t, double size, bool bold) {
    font(size, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr_, t.c_str(), &te);
    return te.x_advance;
  }
  void font(double size, bool bold) {
    cairo_select_font_face(cr_, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size * sc_);
  }
  void set_colour(Rgb c, double alpha = 1) { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }

  double X(double labelled) const {
    return plot_.x0 + (labelled - xt_.lo) / (xt_.hi - xt_.lo) * (plot_.x1 - plot_.x0);
  }
  double Y(double value) const { return Ys(value * f_.scale); }  // as stored (a fraction)
  double Ys(double shown) const {                                // as shown (percent for accuracy)
    return plot_.y1 - (shown - yt_.lo) / (yt_.hi - yt_.lo) * (plot_.y1 - plot_.y0);
  }

  void compute_axes() {
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
    double y_lo = x_lo, y_hi = -x_lo;
    for (const StrategyCurve& c : s_.curves)
      for (const CurvePoint& p : c.points) {
        x_lo = std::min(x_lo, static_cast<double>(p.labelled));
        x_hi = std::max(x_hi, static_cast<double>(p.labelled));
        y_lo = std::min(y_lo, p.min * f_.scale);
        y_hi = std::max(y_hi, p.max * f_.scale);
      }
    NSAL_CHECK(x_lo <= x_hi, "report: nothing to plot");
    // x: the data range and a margin, so markers at the ends clear the frame.
    const double xr = x_hi > x_lo ? x_hi - x_lo : std::max(1.0, x_lo * 0.1);
    xt_ = nice_ticks(x_lo - 0.04 * xr, x_hi + 0.04 * xr, 7, false);
    // y: round ends.
    yt_ = nice_ticks(y_lo, y_hi, 6, true);
  }

  void layout() {
    double tick_w = 0;
    for (double v : yt_.values)
      tick_w = std::max(tick_w, text_width(tick_label(v, yt_.step), 12, false));
    const double left = (14 + 16 + 10) * sc_ + tick_w;  // margin, y label, gap, tick labels
    const double top = (spread_note() ? 64 : 46) * sc_;
    plot_ = {left + 8 * sc_, top, o_.width - 28 * sc_, o_.height - 62 * sc_};
  }

  bool spread_note() const {
    for (const StrategyCurve& c : s_.curves)
      if (c.trials > 1) return true;
    return false;
  }

  void draw_title() {
    const double cx = (plot_.x0 + plot_.x1) / 2;
    text(o_.title.empty() ? "Learning curves" : o_.title, cx, 14 * sc_, 18, true, 0.5, 0, kInk);
    if (spread_note())
      text("lines: mean over trials; bands: lowest to highest trial", cx, 40 * sc_, 12, false, 0.5,
           0, kGrey);
  }

  void draw_grid_and_axes() {
    cairo_set_line_width(cr_, 1 * sc_);
    set_colour(kGrid);
    for (double v : yt_.values) {
      const double y = std::round(Ys(v)) + 0.5;
      cairo_move_to(cr_, plot_.x0, y);
      cairo_line_to(cr_, plot_.x1, y);
    }
    for (double v : xt_.values) {
      const double x = std::round(X(v)) + 0.5;
      cairo_move_to(cr_, x, plot_.y0);
      cairo_line_to(cr_, x, plot_.y1);
    }
    cairo_stroke(cr_);

    set_colour(kInk);
    cairo_set_line_width(cr_, 1.2 * sc_);
    cairo_rectangle(cr_, plot_.x0, plot_.y0, plot_.x1 - plot_.x0, plot_.y1 - plot_.y0);
    cairo_stroke(cr_);
    const double tick = 5 * sc_;
    for (double v : yt_.values) {
      cairo_move_to(cr_, plot_.x0 - tick, Ys(v));
      cairo_line_to(cr_, plot_.x0, Ys(v));
    }
    for (double v : xt_.values) {
      cairo_move_to(cr_, X(v), plot_.y1);
      cairo_line_to(cr_, X(v), plot_.y1 + tick);
    }
    cairo_stroke(cr_);
    for (double v : yt_.values)
      text(tick_label(v, yt_.step), plot_.x0 - tick - 4 * sc_, Ys(v), 12, false, 1, 0.5, kInk);
    for (double v : xt_.values)
      text(tick_label(v, xt_.step), X(v), plot_.y1 + tick + 3 * sc_, 12, false, 0.5, 0, kInk);

    text("labelled samples", (plot_.x0 + plot_.x1) / 2, o_.height - 12 * sc_, 14, false, 0.5, 1,
         kInk);
    const std::string y_label = s_.metric + (f_.unit.empty() ? "" : " (" + f_.unit + ")");
    text(y_label, 14 * sc_, (plot_.y0 + plot_.y1) / 2, 14, false, 0.5, 0, kInk, -kPi / 2);
  }

  void draw_band(size_t k) {
    const StrategyCurve& c = s_.curves[k];
    if (c.trials < 2) return;
    set_colour(rgb(strategy_colour(k)), 0.16);
    if (c.points.size() == 1) {  // one cycle: a bar from lowest to highest
      const CurvePoint& p = c.points[0];
      const double w = 6 * sc_;
      cairo_rectangle(cr_, X(p.labelled) - w / 2, Y(p.max), w, Y(p.min) - Y(p.max));
      cairo_fill(cr_);
      return;
    }
    for (const CurvePoint& p : c.points)
      cairo_line_to(cr_, X(p.labelled), Y(p.max));
    for (auto it = c.points.rbegin(); it != c.points.rend(); ++it)
      cairo_line_to(cr_, X(it->labelled), Y(it->min));
    cairo_close_path(cr_);
    cairo_fill(cr_);
  }

  void draw_line(size_t k) {
    const StrategyCurve& c = s_.curves[k];
    set_colour(rgb(strategy_colour(k)));
    cairo_set_line_width(cr_, 2.2 * sc_);
    for (const CurvePoint& p : c.points)
      cairo_line_to(cr_, X(p.labelled), Y(p.mean));
    cairo_stroke(cr_);
  }

  // Marker k: circle, square, triangle, diamond, inverted triangle, pentagon, hexagon, inverted
  // pentagon, octagon, heptagon (ten shapes, like the ten colours).
  void marker_path(size_t k, double x, double y) {
    const double r = 4.2 * sc_;
    switch (k % 10) {
      case 0:
        cairo_new_sub_path(cr_);
        cairo_arc(cr_, x, y, r, 0, 2 * kPi);
        return;
      case 1:
        cairo_rectangle(cr_, x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7);
        return;
      default: {
        static const int sides[] = {0, 0, 3, 4, 3, 5, 6, 5, 8, 7};
        static const double turn[] = {0,        0, -kPi / 2, 0,       kPi / 2,
                                      -kPi / 2, 0, kPi / 2,  kPi / 8, -kPi / 2};
        const int n = sides[k % 10];
        const double rr = r * 1.25;
        for (int i = 0; i < n; ++i) {
          const double a = turn[k % 10] + 2 * kPi * i / n;
          if (i == 0)
            cairo_move_to(cr_, x + rr * std::cos(a), y + rr * std::sin(a));
          else
            cairo_line_to(cr_, x + rr * std::cos(a), y + rr * std::sin(a));
        }
        cairo_close_path(cr_);
      }
    }
  }

  void draw_marker(size_t k, double x, double y) {
    marker_path(k, x, y);
    set_colour(rgb(strategy_colour(k)));
    cairo_fill_preserve(cr_);
    set_colour(rgb(0xFFFFFF));
    cairo_set_line_width(cr_, 1 * sc_);
    cairo_stroke(cr_);
  }

  void draw_markers(size_t k) {
    for (const CurvePoint& p : s_.curves[k].points)
      draw_marker(k, X(p.labelled), Y(p.mean));
  }

  std::string legend_label(const StrategyCurve& c) const {
    bool same = true;
    for (const StrategyCurve& d : s_.curves)
      same = same && d.trials == s_.curves[0].trials;
    return same ? c.strategy
                : fmt::format("{} ({} trial{})", c.strategy, c.trials, c.trials == 1 ? "" : "s");
  }

  // How many points of the curves and bands a box at this place would hide.
  int overlap(const Rect& box) const {
    int hits = 0;
    for (const StrategyCurve& c : s_.curves)
      for (size_t i = 0; i < c.points.size(); ++i) {
        const CurvePoint& a = c.points[i];
        const CurvePoint& b = i + 1 < c.points.size() ? c.points[i + 1] : a;
        for (int j = 0; j < 8; ++j) {
          const double t = j / 8.0;
          const double x = X(a.labelled + t * (b.labelled - a.labelled));
          for (double v : {a.mean + t * (b.mean - a.mean), a.min + t * (b.min - a.min),
                           a.max + t * (b.max - a.max)})
            hits += box.contains(x, Y(v));
        }
      }
    return hits;
  }

  void draw_legend() {
    const double size = 13, row = 22 * sc_, sample = 30 * sc_, pad = 10 * sc_;
    double w = 0;
    for (const StrategyCurve& c : s_.curves)
      w = std::max(w, text_width(legend_label(c), size, false));
    w += sample + 3 * pad;
    const double h = row * s_.curves.size() + pad;
    const double m = 10 * sc_;
    const Rect corners[] = {
        {plot_.x1 - m - w, plot_.y1 - m - h, plot_.x1 - m, plot_.y1 - m},  // bottom right
        {plot_.x0 + m, plot_.y0 + m, plot_.x0 + m + w, plot_.y0 + m + h},  // top left
        {plot_.x1 - m - w, plot_.y0 + m, plot_.x1 - m, plot_.y0 + m + h},  // top right
        {plot_.x0 + m, plot_.y1 - m - h, plot_.x0 + m + w, plot_.y1 - m},  // bottom left
    };
    // Rising curves leave the bottom right free; falling ones (MAE) the top right.
    const int order_up[] = {0, 1, 2, 3}, order_down[] = {2, 3, 0, 1};
    const int* order = metric_lower_is_better(s_.metric) ? order_down : order_up;
    Rect box = corners[order[0]];
    int best = overlap(box);
    for (int i = 1; i < 4 && best > 0; ++i) {
      const int hits = overlap(corners[order[i]]);
      if (hits < best) best = hits, box = corners[order[i]];
    }

    cairo_rectangle(cr_, box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
    set_colour(rgb(0xFFFFFF), 0.88);
    cairo_fill_preserve(cr_);
    set_colour(rgb(0xBBBBBB));
    cairo_set_line_width(cr_, 1 * sc_);
    cairo_stroke(cr_);
    for (size_t k = 0; k < s_.curves.size(); ++k) {
      const double y = box.y0 + pad / 2 + row * (k + 0.5);
      const double x = box.x0 + pad;
      if (s_.curves[k].trials > 1) {
        set_colour(rgb(strategy_colour(k)), 0.16);
        cairo_rectangle(cr_, x, y - 6 * sc_, sample, 12 * sc_);
        cairo_fill(cr_);
      }
      set_colour(rgb(strategy_colour(k)));
      cairo_set_line_width(cr_, 2.2 * sc_);
      cairo_move_to(cr_, x, y);
      cairo_line_to(cr_, x + sample, y);
      cairo_stroke(cr_);
      draw_marker(k, x + sample / 2, y);
      text(legend_label(s_.curves[k]), x + sample + pad, y, size, false, 0, 0.5, kInk);
    }
  }

  cairo_t* cr_;
  const Summary& s_;
  const PlotOptions& o_;
  ValueFormat f_;
  double sc_ = 1;
  AxisTicks xt_, yt_;
  Rect plot_{};
};

using SurfacePtr = std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)>;
using CairoPtr = std::unique_ptr<cairo_t, void (*)(cairo_t*)>;

void check_cairo(cairo_status_t st, const std::string& path, const char* what) {
  NSAL_CHECK(st == CAIRO_STATUS_SUCCESS, "{}: {}: {}", path, what, cairo_status_to_string(st));
}

void check_options(const Summary& s, const PlotOptions& o, const std::string& path) {
  NSAL_CHECK(o.width >= 200 && o.height >= 150 && o.width <= 20000 && o.height <= 20000,
             "{}: figure size {}x{} is outside 200x150 to 20000x20000", path, o.width, o.height);
  NSAL_CHECK(!s.curves.empty(), "{}: no learning curves to draw", path);
}

void draw_on(cairo_surface_t* surface, const Summary& s, const PlotOptions& o,
             const std::string& path) {
  CairoPtr cr(cairo_create(surface), cairo_destroy);
  Figure(cr.get(), s, o).draw();
  check_cairo(cairo_status(cr.get()), path, "drawing failed");
}

// Cairo's stream writer: appends to a std::string (the closure).
cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

void write_learning_curves_png(const std::string& path, const Summary& s, const PlotOptions& o) {
  check_options(s, o, path);
  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, o.width, o.height),
                     cairo_surface_destroy);
  check_cairo(cairo_surface_status(surface.get()), path, "cannot create the image");
  draw_on(surface.get(), s, o, path);
  std::string png;  // encoded in memory, then written whole (write_file_atomic)
  check_cairo(cairo_surface_write_to_png_stream(surface.get(), append_bytes, &png), path,
              "cannot encode the PNG");
  write_file_atomic(path, png);
}

void write_learning_curves_svg(const std::string& path, const Summary& s, const PlotOptions& o) {
  check_options(s, o, path);
  std::string svg;  // written in memory, then whole (write_file_atomic)
  SurfacePtr surface(cairo_svg_surface_create_for_stream(append_bytes, &svg, o.width, o.height),
                     cairo_surface_destroy);
  check_cairo(cairo_surface_status(surface.get()), path, "cannot create the SVG surface");
  draw_on(surface.get(), s, o, path);
  cairo_surface_finish(surface.get());
  check_cairo(cairo_surface_status(surface.get()), path, "cannot write SVG");
  write_file_atomic(path, svg);
}

}  // namespace nsal::al
