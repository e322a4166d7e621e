#include "experiments/analysis/run_summary.h"

#include "engine/io/atomic_file.h"
#include "experiments/analysis/plot_script.h"

namespace ml::analysis {

void write_run_summary(const std::string& path, nlohmann::json summary, std::chrono::steady_clock::time_point start) {
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary["source_revision"] = source_revision();
  write_text_atomic(path, summary.dump(1) + "\n");
}

}  // namespace ml::analysis
