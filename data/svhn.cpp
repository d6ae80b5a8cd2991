#include "data/svhn.h"

#include <hdf5.h>
#include <matio.h>

#include <cmath>
#include <mutex>

#include "data/dataset_writer.h"
#include "data/mat_v5_check.h"
#include "kernels/error.h"

namespace nsal::data {

namespace {

thread_local std::string last_matio_message;

void matio_log(int level, char* message) {
  if ((level & (MATIO_LOG_LEVEL_CRITICAL | MATIO_LOG_LEVEL_ERROR)) && message)
    last_matio_message = message;
}

// matio prints nothing unless a log function is set; ours keeps the last error for the message.
// Mat_LogInitFunc also installs a printing HDF5 error handler on this thread; nsal reports HDF5
// errors itself, so it is switched off again.
void init_matio() {
  static std::once_flag once;
  std::call_once(once, [] {
    Mat_LogInitFunc("nsal", matio_log);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

std::string matio_detail() {
  std::string m = last_matio_message;
  last_matio_message.clear();
  return m.empty() ? "" : " (libmatio: " + m + ")";
}

struct MatFile {
  mat_t* mat = nullptr;
  ~MatFile() {
    if (mat) Mat_Close(mat);
  }
};
struct MatVar {
  matvar_t* v = nullptr;
  ~MatVar() {
    if (v) Mat_VarFree(v);
  }
};

Shape dims_of(const matvar_t* v) {
  Shape s;
  for (int i = 0; i < v->rank; ++i)
    s.push_back(static_cast<int64_t>(v->dims[i]));
  return s;
}

}  // namespace

Dataset load_svhn_mat(const std::string& path) {
  init_matio();
  check_mat_v5_layout(path);
  MatFile f;
  f.mat = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
  NSAL_CHECK_AS(DataError, f.mat != nullptr, "{}: cannot open as a MATLAB .mat file{}", path,
                matio_detail());
  MatVar vx, vy;
  vx.v = Mat_VarRead(f.mat, "X");
  NSAL_CHECK_AS(DataError, vx.v != nullptr && vx.v->data != nullptr,
                "{}: no readable variable 'X' (expected SVHN's cropped digits){}", path,
                matio_detail());
  vy.v = Mat_VarRead(f.mat, "y");
  NSAL_CHECK_AS(DataError, vy.v != nullptr && vy.v->data != nullptr,
                "{}: no readable variable 'y'{}", path, matio_detail());
  Shape xs = dims_of(vx.v), ys = dims_of(vy.v);
  NSAL_CHECK_AS(DataError,
                vx.v->class_type == MAT_C_UINT8 && !vx.v->isComplex && xs.size() == 4 &&
                    xs[0] == 32 && xs[1] == 32 && xs[2] == 3,
                "{}: X must be uint8 (32, 32, 3, N), got class {} shape {}", path,
                static_cast<int>(vx.v->class_type), shape_str(xs));
  int64_t n = xs[3];
  NSAL_CHECK_AS(DataError, n > 0, "{}: empty dataset (X holds 0 images)", path);
  NSAL_CHECK_AS(DataError, ys.size() == 2 && (ys[1] == 1 || ys[0] == 1) && !vy.v->isComplex,
                "{}: y must be (N, 1), got shape {}", path, shape_str(ys));
  int64_t ny = ys[0] * ys[1];
  NSAL_CHECK_AS(DataError, ny == n, "{}: X holds {} images but y holds {} labels (counts disagree)",
                path, n, ny);
  size_t need_x = static_cast<size_t>(n) * 3072;
  NSAL_CHECK_AS(DataError, vx.v->nbytes >= need_x, "{}: X data is {} bytes, expected {}", path,
                vx.v->nbytes, need_x);

  Dataset d;
  d.task = Task::classification;
  d.num_classes = 10;
  d.y = Tensor({n}, DType::i32);
  int32_t* y = d.y.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    double v;
    switch (vy.v->class_type) {
      case MAT_C_DOUBLE:
        v = static_cast<const double*>(vy.v->data)[i];
        break;
      case MAT_C_SINGLE:
        v = static_cast<const float*>(vy.v->data)[i];
        break;
      case MAT_C_UINT8:
        v = static_cast<const uint8_t*>(vy.v->data)[i];
        break;
      case MAT_C_INT32:
        v = static_cast<const int32_t*>(vy.v->data)[i];
        break;
      default:
        throw DataError(fmt::format("{}: y has MATLAB class {}; expected double or integers", path,
                                    static_cast<int>(vy.v->class_type)));
    }
    NSAL_CHECK_AS(DataError, v == std::floor(v) && v >= 1 && v <= 10,
                  "{}: y[{}] = {} is not a label in 1..10 (10 means the digit 0)", path, i, v);
    y[i] = static_cast<int32_t>(v) % 10;
  }
  // Column-major (h, w, c, n) -> row-major (n, c, h, w).
  d.x = Tensor({n, 3, 32, 32}, DType::u8, Device::cpu(), "SVHN images");
  const uint8_t* src = static_cast<const uint8_t*>(vx.v->data);
  uint8_t* dst = d.x.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 32; ++h)
        for (int w = 0; w < 32; ++w)
          dst[((i * 3 + c) * 32 + h) * 32 + w] = src[h + 32 * (w + 32 * (c + 3 * i))];
  return d;
}

void convert_svhn(const std::string& dir, const ConvertOptions& opts) {
  std::string train_path = dir + "/train_32x32.mat", test_path = dir + "/test_32x32.mat";
  Dataset train = load_svhn_mat(train_path);
  Dataset test = load_svhn_mat(test_path);
  DatasetInfo info;
  info.task = Task::classification;
  info.num_classes = 10;
  info.class_names = known_class_names("svhn");
  SourceRecord src("svhn");
  src.add(train_path);
  src.add(test_path);
  src.apply(info);
  apply_overrides(opts, info);
  DatasetWriter w(opts.output, info, {opts.force, opts.deflate});
  for (Dataset* d : {&train, &test}) {
    w.begin_split(d == &train ? "train" : "test", d->x.dim(0), {3, 32, 32}, DType::u8, {},
                  DType::i32);
    w.append(d->x, d->y);
    w.end_split();
  }
  w.finish();
}

}  // namespace nsal::data
