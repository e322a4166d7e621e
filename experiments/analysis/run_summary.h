// experiments/analysis/run_summary.h — the JSON summary an analysis program writes beside its
// CSV/NPY results (msvt.json, equivariance.json): what was run, how long it took and from which
// source revision, so a figure can be traced to the code that computed it.
#pragma once
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace ml::analysis {

// Writes `summary` plus "seconds" (elapsed since `start`) and "source_revision" to `path`
// (temporary file, then rename), one level of indentation.
void write_run_summary(const std::string& path, nlohmann::json summary, std::chrono::steady_clock::time_point start);

}  // namespace ml::analysis
