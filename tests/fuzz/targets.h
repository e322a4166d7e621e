// tests/fuzz/targets.h — one body per parser the project owns, shared by the libFuzzer
// executables (fuzzer_main.cc) and the regular suite (test_fuzz_regressions.cpp replays every
// file under tests/fuzz/regressions/<target>/ through the same body).
//
// A body feeds the bytes to the function the programs use and requires that it either returns
// a valid object or throws ml::Error whose message names the file. It returns normally in
// both cases. Anything else escapes: another exception type (nlohmann's type_error,
// std::bad_alloc, ...) propagates, and a broken contract (an invalid object, an error that
// does not name the file) throws fuzz::Violation. Under libFuzzer an escaping exception aborts
// the run, which counts as a crash; the sanitizers catch out-of-bounds reads and undefined
// behaviour in either build.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ml::fuzz {

struct Violation : std::logic_error {
  using std::logic_error::logic_error;
};

// Bytes as they lie in a .npy file (load_npy_bytes).
void fuzz_npy(const uint8_t* data, size_t size);
// A .safetensors file (load_safetensors_bytes).
void fuzz_safetensors(const uint8_t* data, size_t size);
// IDX images + labels (load_idx through files). Layout: byte 0 = mode (bit 0: gzip both
// files here, so the IDX parser is reached behind zlib; otherwise they are written as given,
// which may be gzip streams themselves), bytes 1-2 = the images file's length (little-endian),
// then the images file, then the labels file.
void fuzz_idx(const uint8_t* data, size_t size);
// CIFAR-10 binary batches (load_cifar10_files). Byte 0 = where (in 1/256ths) the input is
// cut into two batch files, 255 = one file.
void fuzz_cifar10(const uint8_t* data, size_t size);
// The study's stimulus manifest CSV (read_stimulus_set); bytes after the first NUL, if any,
// become the stimuli.json beside it.
void fuzz_stimulus_manifest(const uint8_t* data, size_t size);
// The renderer's manifest.csv (render::read_manifest).
void fuzz_render_manifest(const uint8_t* data, size_t size);
// The engine's CSV reader (read_csv), under the image-folder and extract_activations
// manifests.
void fuzz_csv(const uint8_t* data, size_t size);
// A Wavefront OBJ mesh (render::load_obj_text, what render::load_obj calls).
void fuzz_obj(const uint8_t* data, size_t size);
// A weights file's "model" metadata JSON (analysis::parse_net_metadata, what
// load_analysis_net reads), and the same bytes as a --normalization final.json
// (analysis::read_normalization).
void fuzz_net_metadata(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // the folder under tests/fuzz/regressions and the executable fuzz_<name>
  void (*body)(const uint8_t*, size_t);
};
const std::vector<Target>& targets();

// A private scratch folder for the file-based targets (removed at exit).
const std::string& scratch_dir();
// Writes `size` bytes to `path` (plain write; not atomic: the targets own the folder).
void write_bytes(const std::string& path, const uint8_t* data, size_t size);

}  // namespace ml::fuzz
