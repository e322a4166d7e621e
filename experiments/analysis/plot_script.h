// experiments/analysis/plot_script.h — runs one of tools/'s Python plotting scripts on a
// results folder (DESIGN.md: C++ writes numbers, Python draws them, so a researcher restyles
// a figure without recompiling). A failed plot is a warning, never a lost result: the numbers
// are already on disk.
#pragma once
#include <string>

namespace ml::analysis {

// Runs `python3 <source>/tools/<script> <args>`; returns whether it succeeded. Debian's
// /usr/bin/python3 has matplotlib (tools/setup.sh installs it); another python3 earlier on
// PATH (a virtual environment) may not, so /usr/bin/python3 is preferred; MIRRORLAB_PYTHON
// overrides.
bool run_plot_script(const std::string& script, const std::string& args);

// The source revision this program was built from (git describe), for provenance.
const char* source_revision();

}  // namespace ml::analysis
