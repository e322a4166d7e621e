// tests/cuda_skip.h — GPU tests skip cleanly where there is no device (CI, laptops).
// Under ctest every test case runs as its own process (doctest_discover_tests) with
// ML_UNDER_CTEST=1 set, so a skip exits with code 77, which ctest reports as "Skipped"
// (SKIP_RETURN_CODE) with the one-line reason in the log. Run directly, the test binary
// prints the reason and returns from the test case so the other cases still run.
#pragma once
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "engine/device.h"

#define ML_REQUIRE_CUDA()                                                            \
  do {                                                                               \
    if (!::ml::cuda_available()) {                                                   \
      std::printf("SKIPPED (no GPU): %s\n", ::ml::cuda_unavailable_reason());        \
      if (std::getenv("ML_UNDER_CTEST")) std::exit(77);                              \
      return;                                                                        \
    }                                                                                \
  } while (0)
