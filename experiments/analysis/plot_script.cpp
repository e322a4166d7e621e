#include "experiments/analysis/plot_script.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace ml::analysis {

bool run_plot_script(const std::string& script, const std::string& args) {
  const char* py_env = std::getenv("MIRRORLAB_PYTHON");
  const std::string py = py_env ? py_env : std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const std::string cmd = py + " '" + MIRRORLAB_SOURCE_DIR + "/tools/" + script + "' " + args;
  if (std::system(cmd.c_str()) == 0) return true;
  std::fprintf(stderr, "warning: plotting failed (%s); the numbers are written\n", cmd.c_str());
  return false;
}

const char* source_revision() { return MIRRORLAB_REVISION; }

}  // namespace ml::analysis
