// tests/fuzz/fuzzer_main.cc — the libFuzzer entry point; CMake builds it once per target with
// FUZZ_TARGET naming the body (targets.h). An exception escaping the body aborts the process,
// which libFuzzer reports as a crash and saves the input of.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ml::fuzz::FUZZ_TARGET(data, size);
  return 0;
}
