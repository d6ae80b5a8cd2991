// Where a run ran: every start and resume of an active-learning run appends one JSON line to
// <run dir>/environment.jsonl naming the nsal version, the device and numeric settings, and the
// machine's CPU, BLAS, CUDA, cuDNN, cuBLAS and GPU. Results are bit-identical only for the same
// backend on the same kind of machine (DESIGN section 4; cuBLAS even needs the same number of
// multiprocessors), so a run that does not reproduce can be traced to the machine that made it.
// `nsal report` lists the machines of the runs it pools.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kernels/backend_info.h"
#include "nn/context.h"

namespace nsal::al {

// One line of environment.jsonl: `event` ("start" or "resume"), the UTC time, the nsal version,
// the context's device, threads, math mode, deterministic and autotune flags, and `machine`:
// the fields of `info` (only the GPU the context uses, when it uses one).
nlohmann::json environment_record(const kernels::BackendInfo& info, const Context& ctx,
                                  const std::string& event);

// Appends environment_record(backend_info(), ctx, event) to <run_dir>/environment.jsonl (the
// whole file is rewritten atomically, so a killed run leaves the old lines or the new ones).
void record_environment(const std::string& run_dir, const Context& ctx, const std::string& event);

// One line per distinct machine a run directory's environment.jsonl names, in order of first
// appearance, e.g. "nsal 0.1.0; cpu: Intel(R) Xeon(R) ... (OpenBLAS SkylakeX, 2 threads)".
// A missing file gives no lines; a line that is not such a record is a DataError naming the file
// and line.
std::vector<std::string> run_machines(const std::string& run_dir);

// The device a run started on ("cpu", "cuda:0"): environment.jsonl's "start" record. nullopt
// when the file or that record is missing (a run from before the file existed).
std::optional<std::string> run_started_device(const std::string& run_dir);

// The one-line description run_machines() gives of a record.
std::string machine_text(const nlohmann::json& record);

}  // namespace nsal::al
