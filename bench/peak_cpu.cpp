// bench/peak_cpu.cpp — the machine's measured FP32 peak: the ceiling that every CPU kernel's
// GFLOP/s is divided by (PEERS.md, "the physical limit"; STYLE.md §4).
//
// Each thread runs 12 independent chains  acc_i <- acc_i * a + b  of vector FMAs (AVX-512,
// 16 lanes; AVX2, 8 lanes, where the build has no AVX-512). Why 12: an FMA's result is ready
// only after its latency (4 cycles on Zen 4 and Skylake-X) and a core retires at most 2 vector
// FMAs per cycle, so up to latency x throughput = 8 chains must be in flight to keep every FMA unit
// busy; 12 leaves a margin and still fits in the register file (12 accumulators + a + b).
// Each step is 12 chains x lanes x 2 flops (one multiply, one add).
//
// A measurement runs ~0.5 s (enough to reach the sustained clock, long enough that the
// OpenMP fork/join is noise); it is repeated 5 times and the median reported, once on 1 thread
// and once on omp_get_max_threads() threads. The machines are shared: the spread (min..max)
// is printed too, and a low minimum usually means someone else was computing.
//
// Usage: peak_cpu [--json PATH] [--seconds S] [--repeats R]
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
constexpr const char* kIsa = "avx512";
inline Vec vset(float v) { return _mm512_set1_ps(v); }
inline Vec vfma(Vec x, Vec a, Vec b) { return _mm512_fmadd_ps(x, a, b); }
inline Vec vadd(Vec x, Vec y) { return _mm512_add_ps(x, y); }
inline void vstore(float* p, Vec v) { _mm512_store_ps(p, v); }
#elif defined(__AVX2__) && defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
constexpr const char* kIsa = "avx2";
inline Vec vset(float v) { return _mm256_set1_ps(v); }
inline Vec vfma(Vec x, Vec a, Vec b) { return _mm256_fmadd_ps(x, a, b); }
inline Vec vadd(Vec x, Vec y) { return _mm256_add_ps(x, y); }
inline void vstore(float* p, Vec v) { _mm256_store_ps(p, v); }
#else
#error "peak_cpu needs AVX2+FMA at least (build with -march=native or -march=x86-64-v3)"
#endif

constexpr int kChains = 12;
constexpr double kFlopsPerStep = 2.0 * kChains * kLanes;

// Horizontal sum through memory: only used once per run, and GCC 12's _mm512_reduce_add_ps
// trips a false -Wuninitialized.
float vsum(Vec v) {
  alignas(64) float t[kLanes];
  vstore(t, v);
  float s = 0.f;
  for (float x : t) s += x;
  return s;
}

// Inputs read through volatiles: the compiler cannot know a and b, so it cannot fold or
// shorten the chains; the result goes to a volatile sink, so it cannot drop them either.
volatile float g_a = 0.999999f;  // |a| < 1 and b small: acc converges to b/(1-a), no overflow,
volatile float g_b = 1e-7f;      // no denormals (which would slow some cores down)
volatile float g_sink = 0.f;

// `steps` steps of the 12 chains on the calling thread; returns their sum.
float fma_chains(int64_t steps, float offset) {
  const Vec a = vset(g_a), b = vset(g_b);
  // Twelve named accumulators, not an array: they must live in registers.
  Vec c0 = vset(offset + 0.f), c1 = vset(offset + 1.f), c2 = vset(offset + 2.f), c3 = vset(offset + 3.f);
  Vec c4 = vset(offset + 4.f), c5 = vset(offset + 5.f), c6 = vset(offset + 6.f), c7 = vset(offset + 7.f);
  Vec c8 = vset(offset + 8.f), c9 = vset(offset + 9.f), c10 = vset(offset + 10.f), c11 = vset(offset + 11.f);
  for (int64_t i = 0; i < steps; ++i) {
    c0 = vfma(c0, a, b);
    c1 = vfma(c1, a, b);
    c2 = vfma(c2, a, b);
    c3 = vfma(c3, a, b);
    c4 = vfma(c4, a, b);
    c5 = vfma(c5, a, b);
    c6 = vfma(c6, a, b);
    c7 = vfma(c7, a, b);
    c8 = vfma(c8, a, b);
    c9 = vfma(c9, a, b);
    c10 = vfma(c10, a, b);
    c11 = vfma(c11, a, b);
  }
  const Vec s = vadd(vadd(vadd(vadd(c0, c1), vadd(c2, c3)), vadd(vadd(c4, c5), vadd(c6, c7))),
                     vadd(vadd(c8, c9), vadd(c10, c11)));
  return vsum(s);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Wall time of `steps` steps on each of `threads` threads.
double time_run(int threads, int64_t steps) {
  const double t0 = now_s();
  if (threads == 1) {
    g_sink = g_sink + fma_chains(steps, 0.f);
  } else {
#pragma omp parallel num_threads(threads)
    {
      const float s = fma_chains(steps, static_cast<float>(omp_get_thread_num()));
#pragma omp critical
      g_sink = g_sink + s;
    }
  }
  return now_s() - t0;
}

struct Result {
  int threads = 0;
  int64_t steps = 0;
  std::vector<double> gflops;  // one per repetition, in run order
  double median = 0, min = 0, max = 0;
};

Result measure(int threads, double seconds, int repeats) {
  // Calibrate: time a short run (after a warm-up that spawns the threads and lifts the clock)
  // and scale the step count to the target duration.
  int64_t steps = 1 << 18;
  time_run(threads, steps);
  double t = time_run(threads, steps);
  while (t < 0.05) {
    steps *= 4;
    t = time_run(threads, steps);
  }
  steps = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(steps) * seconds / t));

  Result r;
  r.threads = threads;
  r.steps = steps;
  for (int i = 0; i < repeats; ++i) {
    const double wall = time_run(threads, steps);
    r.gflops.push_back(kFlopsPerStep * static_cast<double>(steps) * threads / wall * 1e-9);
  }
  std::vector<double> sorted = r.gflops;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  r.median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  r.min = sorted.front();
  r.max = sorted.back();
  return r;
}

void write_result_json(FILE* f, const char* key, const Result& r, double seconds) {
  std::fprintf(f, "  \"%s\": {\"threads\": %d, \"steps\": %lld, \"seconds_per_run\": %.3f, ", key, r.threads,
               static_cast<long long>(r.steps), seconds);
  std::fprintf(f, "\"median_gflops\": %.3f, \"min_gflops\": %.3f, \"max_gflops\": %.3f, \"runs_gflops\": [",
               r.median, r.min, r.max);
  for (size_t i = 0; i < r.gflops.size(); ++i) std::fprintf(f, "%s%.3f", i ? ", " : "", r.gflops[i]);
  std::fprintf(f, "]}");
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr, "peak_cpu: %s\nusage: peak_cpu [--json PATH] [--seconds S] [--repeats R]\n", msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  double seconds = 0.5;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
    if (arg == "--json") {
      json_path = argv[++i];
    } else if (arg == "--seconds") {
      seconds = std::atof(argv[++i]);
      if (!(seconds > 0)) usage("--seconds must be > 0");
    } else if (arg == "--repeats") {
      repeats = std::atoi(argv[++i]);
      if (repeats < 1) usage("--repeats must be >= 1");
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }

  const int max_threads = omp_get_max_threads();
  const Result one = measure(1, seconds, repeats);
  const Result all = measure(max_threads, seconds, repeats);

  std::printf("FP32 FMA peak: %s, %d independent chains x %d lanes per thread, %.2f s per run, median of %d\n",
              kIsa, kChains, kLanes, seconds, repeats);
  std::printf("%8s %16s %10s %10s %18s\n", "threads", "median GFLOP/s", "min", "max", "median per thread");
  for (const Result* r : {&one, &all})
    std::printf("%8d %16.1f %10.1f %10.1f %18.1f\n", r->threads, r->median, r->min, r->max, r->median / r->threads);

  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "peak_cpu: cannot open --json %s: %s\n", json_path.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(f, "{\n  \"isa\": \"%s\", \"chains\": %d, \"lanes\": %d, \"repeats\": %d, \"max_threads\": %d,\n",
                 kIsa, kChains, kLanes, repeats, max_threads);
    write_result_json(f, "single", one, seconds);
    std::fprintf(f, ",\n");
    write_result_json(f, "all", all, seconds);
    std::fprintf(f, "\n}\n");
    if (std::fclose(f) != 0) {
      std::fprintf(stderr, "peak_cpu: writing %s failed\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}
