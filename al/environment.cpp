#include "al/environment.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <sstream>

#include "al/atomic_file.h"
#include "kernels/error.h"

namespace nsal::al {

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

nlohmann::json environment_record(const kernels::BackendInfo& info, const Context& ctx,
                                  const std::string& event) {
  const Device d = ctx.device();
  nlohmann::json machine = {{"cpu", info.cpu_name},
                            {"blas", info.blas},
                            {"blas_core", info.blas_core},
                            {"blas_threads", info.blas_threads},
                            {"cuda_compiled", info.cuda_compiled}};
  if (info.cuda_compiled) {
    machine["cuda_runtime"] = info.cuda_runtime;
    machine["cuda_driver"] = info.cuda_driver;
    machine["cudnn"] = info.cudnn;
    machine["cublas"] = info.cublas;
  }
  if (d.is_cuda()) {
    auto g = std::find_if(info.gpus.begin(), info.gpus.end(),
                          [&](const kernels::GpuInfo& x) { return x.index == d.index; });
    if (g != info.gpus.end())
      machine["gpu"] = {{"index", g->index},
                        {"name", g->name},
                        {"compute_capability", fmt::format("{}.{}", g->cc_major, g->cc_minor)},
                        {"multiprocessors", g->sm_count},
                        {"memory_bytes", g->memory_bytes}};
  }
  return {{"event", event},
          {"time", utc_now()},
          {"nsal", NSAL_VERSION},
          {"device", d.str()},
          {"threads", ctx.threads()},
          {"math", math_mode_name(ctx.math_mode())},
          {"deterministic", ctx.deterministic()},
          {"cudnn_autotune", ctx.conv_autotune()},
          {"machine", machine}};
}

void record_environment(const std::string& run_dir, const Context& ctx, const std::string& event) {
  const std::string path = run_dir + "/environment.jsonl";
  std::string text = file_exists(path) ? read_file(path) : std::string();
  if (!text.empty() && text.back() != '\n') text += '\n';  // a line cut short stays its own line
  text += environment_record(kernels::backend_info(), ctx, event).dump() + "\n";
  write_file_atomic(path, text);
}

std::string machine_text(const nlohmann::json& r) {
  const nlohmann::json& m = r.at("machine");
  std::string s =
      fmt::format("nsal {}; cpu: {} (OpenBLAS {}, {} thread{})", r.at("nsal").get<std::string>(),
                  m.at("cpu").get<std::string>(), m.value("blas_core", std::string("?")),
                  r.at("threads").get<int>(), r.at("threads").get<int>() == 1 ? "" : "s");
  if (m.contains("gpu")) {
    const nlohmann::json& g = m.at("gpu");
    s += fmt::format(
        "; gpu: {} (compute capability {}, {} multiprocessors), CUDA {}, cuDNN {}, "
        "cuBLAS {}",
        g.at("name").get<std::string>(), g.at("compute_capability").get<std::string>(),
        g.at("multiprocessors").get<int>(), m.value("cuda_runtime", std::string("?")),
        m.value("cudnn", std::string("?")), m.value("cublas", std::string("?")));
  }
  s += fmt::format("; math {}{}", r.at("math").get<std::string>(),
                   r.at("deterministic").get<bool>() ? "" : ", nondeterministic cuDNN");
  return s;
}

namespace {

// Calls fn(record) for each line of the run's environment.jsonl, in order, until fn returns
// false; a line that is not such a record is a DataError naming the file and line. A missing
// file has no records.
void for_each_record(const std::string& run_dir,
                     const std::function<bool(const nlohmann::json&)>& fn) {
  const std::string path = run_dir + "/environment.jsonl";
  if (!file_exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      if (!fn(nlohmann::json::parse(line))) return;
    } catch (const nlohmann::json::exception& e) {
      throw DataError(
          fmt::format("{}: line {}: not an environment record: {}", path, number, e.what()));
    }
  }
}

}  // namespace

std::optional<std::string> run_started_device(const std::string& run_dir) {
  std::optional<std::string> out;
  for_each_record(run_dir, [&](const nlohmann::json& r) {
    if (r.at("event").get<std::string>() != "start") return true;
    out = r.at("device").get<std::string>();
    return false;
  });
  return out;
}

std::vector<std::string> run_machines(const std::string& run_dir) {
  std::vector<std::string> out;
  for_each_record(run_dir, [&](const nlohmann::json& r) {
    const std::string text = machine_text(r);
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
    return true;
  });
  return out;
}

}  // namespace nsal::al
