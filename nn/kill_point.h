// Fault injection for the resume tests: with NSAL_KILL_AT=<name>[:<n>] in the environment, the
// n-th (default first) call of kill_point("<name>") sends SIGKILL to the process, so a test can
// stop a run at a chosen place (mid-training, after scoring, between writing a file and
// renaming it) and check that --resume finishes it exactly. Without the variable it does
// nothing but compare a cached string.
#pragma once

namespace nsal {

void kill_point(const char* name);

}  // namespace nsal
