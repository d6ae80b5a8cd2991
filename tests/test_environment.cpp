// environment.jsonl: what each start and resume of a run records about the machine, and the
// machines section `nsal report` builds from it.
#include <gtest/gtest.h>

#include <filesystem>

#include "al/atomic_file.h"
#include "al/environment.h"
#include "al/report.h"
#include "kernels/error.h"
#include "tests/test_data_util.h"

namespace nsal::al {
namespace {

using nsal::testing::TempDir;

void write_one_row_metrics(const std::string& run) {
  write_file_atomic(run + "/metrics.csv",
                    "trial,strategy,cycle,labelled,metric,value,train_seconds,"
                    "acquisition_seconds,seed\n0,random,0,10,accuracy,0.5,1.0,0.0,1\n");
}

kernels::BackendInfo sample_info() {
  kernels::BackendInfo b;
  b.cuda_compiled = true;
  b.cuda_runtime = "13.0";
  b.cudnn = "9.19.0";
  b.cublas = "13.1.0";
  b.blas = "OpenBLAS 0.3.21 DYNAMIC_ARCH";
  b.blas_core = "SkylakeX";
  b.cpu_name = "Test CPU";
  b.gpus = {{0, "GPU zero", 9, 0, 132, size_t{1} << 37},
            {1, "GPU one", 8, 0, 108, size_t{1} << 36}};
  return b;
}

TEST(Environment, RecordNamesTheDeviceAndSettingsAndOnlyTheGpuInUse) {
  Context cpu(Device::cpu());
  cpu.set_threads(1);
  nlohmann::json r = environment_record(sample_info(), cpu, "start");
  EXPECT_EQ(r.at("event"), "start");
  EXPECT_EQ(r.at("nsal"), NSAL_VERSION);
  EXPECT_EQ(r.at("device"), "cpu");
  EXPECT_EQ(r.at("threads"), 1);
  EXPECT_EQ(r.at("math"), "fp32");
  EXPECT_EQ(r.at("deterministic"), true);
  EXPECT_EQ(r.at("machine").at("blas_core"), "SkylakeX");
  EXPECT_EQ(r.at("machine").at("cudnn"), "9.19.0");
  EXPECT_FALSE(r.at("machine").contains("gpu"));           // the CPU ran it
  EXPECT_EQ(r.at("time").get<std::string>().size(), 20u);  // 2026-11-29T01:02:03Z
  EXPECT_EQ(machine_text(r),
            "nsal " NSAL_VERSION "; cpu: Test CPU (OpenBLAS SkylakeX, 1 thread); math fp32");

  // A context on cuda:1 (one can be made without a GPU; nothing runs on it) records GPU 1 only.
  Context gpu1(Device::cuda(1));
  gpu1.set_threads(1);
  gpu1.set_deterministic(false);
  r = environment_record(sample_info(), gpu1, "resume");
  EXPECT_EQ(r.at("device"), "cuda:1");
  EXPECT_EQ(r.at("machine").at("gpu").at("name"), "GPU one");
  EXPECT_EQ(r.at("machine").at("gpu").at("multiprocessors"), 108);
  EXPECT_EQ(machine_text(r),
            "nsal " NSAL_VERSION
            "; cpu: Test CPU (OpenBLAS SkylakeX, 1 thread); gpu: GPU one (compute capability "
            "8.0, 108 multiprocessors), CUDA 13.0, cuDNN 9.19.0, cuBLAS 13.1.0; math fp32, "
            "nondeterministic cuDNN");
}

TEST(Environment, StartsAndResumesAppendLinesAndTheReportListsEachMachineOnce) {
  TempDir dir;
  const std::string run = dir / "run";
  make_dirs(run);
  Context ctx(Device::cpu());
  ctx.set_threads(1);
  record_environment(run, ctx, "start");
  record_environment(run, ctx, "resume");
  std::string text = read_file(run + "/environment.jsonl");
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_EQ(nlohmann::json::parse(text.substr(0, text.find('\n'))).at("event"), "start");
  EXPECT_EQ(run_machines(run).size(), 1u);  // the same machine twice

  ctx.set_threads(2);
  record_environment(run, ctx, "resume");
  ASSERT_EQ(run_machines(run).size(), 2u);
  EXPECT_NE(run_machines(run)[1].find("2 threads"), std::string::npos);

  write_one_row_metrics(run);
  ReportOptions o;
  o.runs = {run};
  ReportResult r = make_report(o);
  EXPECT_TRUE(r.warnings.empty());
  const size_t at = r.markdown.find("## Machines");
  ASSERT_NE(at, std::string::npos) << r.markdown;
  EXPECT_NE(r.markdown.find("- " + run_machines(run)[0] + ": `" + run + "`", at), std::string::npos)
      << r.markdown;
}

TEST(Environment, AMissingFileHasNoMachinesAndABadLineIsNamed) {
  TempDir dir;
  const std::string run = dir / "run";
  make_dirs(run);
  EXPECT_TRUE(run_machines(run).empty());
  write_file_atomic(run + "/environment.jsonl", "{\"event\": \"start\"}\n");
  try {
    run_machines(run);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("environment.jsonl: line 1"), std::string::npos)
        << e.what();
  }
  // The report still comes out, with a warning and without the section.
  write_one_row_metrics(run);
  ReportOptions o;
  o.runs = {run};
  ReportResult r = make_report(o);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("environment.jsonl"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.markdown.find("## Machines"), std::string::npos);
}

}  // namespace
}  // namespace nsal::al
