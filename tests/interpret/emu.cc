// tests/interpret/emu.cc — the scheduler of the interpret mode (see cuda_emu.h): CUDA threads
// as ucontext fibers, blocks one at a time, barriers and shuffles checked for divergence,
// launch configurations checked against the device limits.
//
// Switching. A fiber is created once per slot (makecontext, entered with setcontext) and then
// loops: run the kernel body for the thread it is given, report Done, wait for the next block.
// Between switches _setjmp/_longjmp move between the scheduler's stack and the fibers' stacks:
// unlike swapcontext they make no sigprocmask system call, which was a third of the run time.
// Under AddressSanitizer swapcontext with ASan's fiber annotations is used instead. After an
// error every fiber is abandoned where it stood and created afresh at the next launch.
//
// (.cc, not .cpp: tests/CMakeLists.txt globs tests/**/*.cpp into the ordinary test binary,
// which must not contain the emulator.)
// _FORTIFY_SOURCE's longjmp check refuses a jump to another stack, which is what a fiber
// switch is.
#undef _FORTIFY_SOURCE
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/interpret/cuda_emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define ML_EMU_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif

namespace mlemu {

// Device limits of every GPU since compute capability 2.0 (CUDA Programming Guide, "Features
// and Technical Specifications"); 48 KiB is the static shared memory a kernel may declare
// without opting in to more.
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535u, 65535u};
constexpr size_t kMaxSharedPerBlock = 48 * 1024;

ThreadIds* g_cur = nullptr;
uint3 g_block_idx{0, 0, 0};
dim3 g_block_dim, g_grid_dim;

namespace {

enum class State { Ready, Barrier, Shuffle, Done, Failed };

struct Fiber : ThreadIds {
  ucontext_t ctx;
  char* stack = nullptr;  // kStack bytes above one guard page
  State state = State::Ready;
  std::source_location site;  // of the barrier or shuffle it waits at
  int pred = 0;               // __syncthreads_or: its predicate in, the block's OR out
  unsigned mask = 0;
  int lane_mask = 0, width = 32;
  unsigned char value[16];  // the shuffle's operand in, the partner's value out
  size_t bytes = 0;
  unsigned index = 0;  // linear thread index in the block; lane = index % 32
  bool started = false;  // its context runs fiber_main's loop (else it must be made afresh)
  jmp_buf jb;            // where it waits (non-ASan switching)
};

// Stacks: kernels keep a few hundred bytes of locals (conv2d's tile accumulators are the
// largest, 8x8 floats). 64 KiB leaves a wide margin; AddressSanitizer's redzones need more.
// A guard page below each stack turns an overflow into a fault instead of silent corruption.
#if ML_EMU_ASAN
constexpr size_t kStack = 512 * 1024;
#else
constexpr size_t kStack = 64 * 1024;
#endif

struct Scheduler {
  // Grows to the largest block seen; stacks are reused. Fibers never move (a ucontext_t points
  // into itself), hence the unique_ptr.
  std::vector<std::unique_ptr<Fiber>> fibers;
  ucontext_t main_ctx;
  jmp_buf main_jb;
  Body body = nullptr;
  void* body_ctx = nullptr;
  unsigned n = 0;  // threads in the current block
  std::string failure;
  // Shared memory touched by the current block (ML_SHARED), and its bytes.
  std::vector<void*> shared_seen;
  size_t shared_bytes = 0, dynamic_smem = 0;
  bool reverse = false;
#if ML_EMU_ASAN
  void* fake_stack = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
#endif

  void ensure(unsigned count) {
    const long page = sysconf(_SC_PAGESIZE);
    while (fibers.size() < count) {
      fibers.push_back(std::make_unique<Fiber>());
      Fiber& f = *fibers.back();
      f.index = static_cast<unsigned>(fibers.size() - 1);
      void* m = mmap(nullptr, kStack + static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
      if (m == MAP_FAILED) throw std::runtime_error("interpret: cannot map a fiber stack");
      mprotect(m, static_cast<size_t>(page), PROT_NONE);
      f.stack = static_cast<char*>(m) + page;
      getcontext(&f.ctx);
    }
  }
};

Scheduler& sched() {
  static Scheduler* s = new Scheduler();  // never destroyed: stacks live until the process ends
  return *s;
}

std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

Fiber& F(Scheduler& s, unsigned t) { return *s.fibers[t]; }

Fiber& current() { return *static_cast<Fiber*>(g_cur); }

void fiber_main();

// Back to the scheduler; returns when the scheduler resumes this fiber.
void yield_to_scheduler() {
  Scheduler& s = sched();
  Fiber& f = current();
#if ML_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, s.main_bottom, s.main_size);
  swapcontext(&f.ctx, &s.main_ctx);
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#else
  if (!_setjmp(f.jb)) _longjmp(s.main_jb, 1);
#endif
}

// Runs fiber f until it yields.
void enter(Scheduler& s, Fiber& f) {
  g_cur = &f;
  const bool fresh = !f.started;
  if (fresh) {
    f.started = true;
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_main, 0);
  }
#if ML_EMU_ASAN
  __sanitizer_start_switch_fiber(&s.fake_stack, f.stack, kStack);
  swapcontext(&s.main_ctx, &f.ctx);
  __sanitizer_finish_switch_fiber(s.fake_stack, nullptr, nullptr);
#else
  if (!_setjmp(s.main_jb)) {
    if (fresh) setcontext(&f.ctx);
    _longjmp(f.jb, 1);
  }
#endif
  g_cur = nullptr;
}

// A fiber cannot throw across the context switch: it records the failure and parks for good.
[[noreturn]] void fail_in_thread(const std::string& what) {
  Scheduler& s = sched();
  s.failure = what;
  current().state = State::Failed;
  yield_to_scheduler();
  std::abort();  // never resumed
}

void fiber_main() {
#if ML_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &sched().main_bottom, &sched().main_size);
#endif
  Scheduler& s = sched();
  for (;;) {  // one kernel thread per turn; the scheduler sets the body and the thread index
    try {
      s.body(s.body_ctx);
    } catch (const std::exception& e) {
      fail_in_thread(std::string("exception in the kernel: ") + e.what());
    }
    current().state = State::Done;
    yield_to_scheduler();
  }
}

std::string str(dim3 d) {
  std::ostringstream os;
  os << "(" << d.x << "," << d.y << "," << d.z << ")";
  return os.str();
}

std::string site_str(const std::source_location& l) {
  std::string f = l.file_name();
  const auto k = f.find("kernels/cuda/");  // the repository path, not the build machine's
  if (k != std::string::npos) f = f.substr(k);
  return f + ":" + std::to_string(l.line());
}

bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() && std::strcmp(a.file_name(), b.file_name()) == 0;
}

std::string tid_str(const Fiber& f) { return str(dim3(f.tid)); }

// Runs every ready fiber once, in thread order (reversed when asked).
void run_pass(Scheduler& s) {
  for (unsigned k = 0; k < s.n; ++k) {
    Fiber& f = F(s, s.reverse ? s.n - 1 - k : k);
    if (f.state != State::Ready) continue;
    enter(s, f);
    if (f.state == State::Failed) throw std::runtime_error("thread " + tid_str(f) + ": " + s.failure);
  }
}

const char* state_name(State st) {
  switch (st) {
    case State::Ready: return "running";
    case State::Barrier: return "waiting at a barrier";
    case State::Shuffle: return "waiting at another shuffle";
    case State::Done: return "exited";
    case State::Failed: return "failed";
  }
  return "?";
}

// Completes every warp whose shuffle has all its lanes; true if any did. Throws when a waiting
// shuffle can never complete (nothing else can run).
bool resolve_shuffles(Scheduler& s) {
  bool any = false;
  std::string problem;
  for (unsigned w0 = 0; w0 < s.n; w0 += 32) {
    const unsigned lanes = std::min(32u, s.n - w0);
    int first = -1;
    for (unsigned l = 0; l < lanes; ++l)
      if (F(s, w0 + l).state == State::Shuffle) {
        first = static_cast<int>(l);
        break;
      }
    if (first < 0) continue;
    const Fiber& lead = F(s, w0 + static_cast<unsigned>(first));
    // Every lane the leader's mask names must wait at the same shuffle with the same mask.
    std::string missing;
    for (unsigned l = 0; l < 32; ++l) {
      if (!(lead.mask >> l & 1u)) continue;
      if (l >= lanes) {
        missing += " lane " + std::to_string(l) + " (no such thread: the block has " + std::to_string(s.n) +
                   " threads)";
        continue;
      }
      const Fiber& f = F(s, w0 + l);
      if (f.state != State::Shuffle) {
        missing += " lane " + std::to_string(l) + " (" + state_name(f.state) + ")";
      } else if (!same_site(f.site, lead.site) || f.mask != lead.mask) {
        missing += " lane " + std::to_string(l) + " (at the shuffle of " + site_str(f.site) + ")";
      }
    }
    if (!missing.empty()) {
      if (problem.empty())
        problem = "shuffle with missing lanes at " + site_str(lead.site) + ", warp " + std::to_string(w0 / 32) +
                  ", mask 0x" + [&] {
                    char b[16];
                    std::snprintf(b, sizeof b, "%08x", lead.mask);
                    return std::string(b);
                  }() + ":" + missing;
      continue;
    }
    // All there: lane l reads lane l ^ lane_mask (its own value if that is past its segment).
    unsigned char out[32][16];
    for (unsigned l = 0; l < lanes; ++l) {
      const Fiber& f = F(s, w0 + l);
      if (f.state != State::Shuffle) continue;
      const unsigned src = l ^ static_cast<unsigned>(f.lane_mask);
      const unsigned seg_end = (l / static_cast<unsigned>(f.width) + 1) * static_cast<unsigned>(f.width);
      const Fiber* from = &f;
      if (src < seg_end && src < 32) {
        if (src >= lanes || !(lead.mask >> src & 1u))
          throw std::runtime_error("lane " + std::to_string(l) + " of warp " + std::to_string(w0 / 32) +
                                   " reads lane " + std::to_string(src) + ", which is not in the shuffle's mask, at " +
                                   site_str(f.site));
        from = &F(s, w0 + src);
      }
      std::memcpy(out[l], from->value, f.bytes);
    }
    for (unsigned l = 0; l < lanes; ++l) {
      Fiber& f = F(s, w0 + l);
      if (f.state != State::Shuffle) continue;
      std::memcpy(f.value, out[l], f.bytes);
      f.state = State::Ready;
    }
    any = true;
  }
  if (!any && !problem.empty()) throw std::runtime_error(problem);
  return any;
}

// All threads that have not exited wait at a barrier: it must be the same one for all, and
// no thread may have exited.
void resolve_barrier(Scheduler& s) {
  const Fiber* lead = nullptr;
  unsigned waiting = 0, exited = 0;
  std::string exited_ids, other;
  for (unsigned t = 0; t < s.n; ++t) {
    const Fiber& f = F(s, t);
    if (f.state == State::Done) {
      if (++exited <= 4) exited_ids += " " + tid_str(f);
      continue;
    }
    ++waiting;
    if (!lead) {
      lead = &f;
    } else if (other.empty() && !same_site(f.site, lead->site)) {
      other = "thread " + tid_str(*lead) + " waits at " + site_str(lead->site) + ", thread " + tid_str(f) +
              " at " + site_str(f.site);
    }
  }
  if (!other.empty()) throw std::runtime_error("barrier divergence: threads wait at different barriers: " + other);
  if (exited > 0)
    throw std::runtime_error("barrier divergence: " + std::to_string(exited) + " thread(s) exited (" + exited_ids +
                             (exited > 4 ? " ..." : "") + " ) while " + std::to_string(waiting) +
                             " wait at the barrier of " + site_str(lead->site));
  int any = 0;
  for (unsigned t = 0; t < s.n; ++t) any |= F(s, t).pred;
  for (unsigned t = 0; t < s.n; ++t) {
    F(s, t).pred = any;
    F(s, t).state = State::Ready;
  }
}

void run_block(Scheduler& s) {
  for (unsigned t = 0; t < s.n; ++t) {
    Fiber& f = F(s, t);
    f.tid = uint3{t % g_block_dim.x, (t / g_block_dim.x) % g_block_dim.y, t / (g_block_dim.x * g_block_dim.y)};
    f.state = State::Ready;
    f.pred = 0;
  }
  s.shared_seen.clear();
  s.shared_bytes = 0;
  for (;;) {
    run_pass(s);
    bool all_done = true, shuffles = false;
    for (unsigned t = 0; t < s.n; ++t) {
      all_done &= F(s, t).state == State::Done;
      shuffles |= F(s, t).state == State::Shuffle;
    }
    if (all_done) return;
    if (shuffles && resolve_shuffles(s)) continue;
    resolve_barrier(s);
  }
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

}  // namespace

void barrier(const std::source_location& site) { (void)barrier_or(0, site); }

int barrier_or(int pred, const std::source_location& site) {
  if (!g_cur) throw std::runtime_error("interpret: __syncthreads outside a kernel");
  Fiber& f = current();
  f.state = State::Barrier;
  f.site = site;
  f.pred = pred != 0;
  yield_to_scheduler();
  return f.pred;
}

void shuffle(unsigned mask, int lane_mask, int width, void* value, size_t bytes, const std::source_location& site) {
  if (!g_cur) throw std::runtime_error("interpret: __shfl_xor_sync outside a kernel");
  Fiber& f = current();
  const unsigned lane = f.index % 32;
  if (!(mask >> lane & 1u))
    fail_in_thread("__shfl_xor_sync at " + site_str(site) + " with mask 0x" + std::to_string(mask) +
                   " that does not include the calling lane " + std::to_string(lane));
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail_in_thread("__shfl_xor_sync at " + site_str(site) + ": width " + std::to_string(width) +
                   " is not a power of two in [1, 32]");
  f.state = State::Shuffle;
  f.site = site;
  f.mask = mask;
  f.lane_mask = lane_mask;
  f.width = width;
  f.bytes = bytes;
  std::memcpy(f.value, value, bytes);
  yield_to_scheduler();
  std::memcpy(value, f.value, bytes);
}

void shared_region(void* p, size_t bytes, const char* name) {
  if (!g_cur) return;  // not inside a launch: nothing to account
  Scheduler& s = sched();
  for (void* q : s.shared_seen)
    if (q == p) return;
  s.shared_seen.push_back(p);
  s.shared_bytes += bytes;
  if (s.shared_bytes + s.dynamic_smem > kMaxSharedPerBlock)
    fail_in_thread("shared memory: " + std::to_string(s.shared_bytes) + " bytes of static shared memory (with '" +
                   name + "') + " + std::to_string(s.dynamic_smem) + " dynamic exceed the device limit of " +
                   std::to_string(kMaxSharedPerBlock) + " bytes per block");
  std::memset(p, 0xFF, bytes);  // NaN for float and double: an unwritten element shows
}

void run_kernel(const char* kernel, const char* file, int line, dim3 grid, dim3 block, size_t dynamic_smem, Body body,
                void* ctx) {
  std::string where = file;
  {
    const auto k = where.find("kernels/cuda/");
    if (k != std::string::npos) where = where.substr(k);
  }
  where += ":" + std::to_string(line) + ": kernel " + kernel + " <<<grid " + str(grid) + ", block " + str(block) +
           ", shared " + std::to_string(dynamic_smem) + ">>>: ";
  // Launch configuration, as cudaLaunchKernel checks it (invalid configuration argument).
  const unsigned bd[3] = {block.x, block.y, block.z}, gd[3] = {grid.x, grid.y, grid.z};
  const char* axis = "xyz";
  for (int i = 0; i < 3; ++i) {
    if (bd[i] == 0 || bd[i] > kMaxBlockDim[i])
      throw std::runtime_error(where + "block dimension " + axis[i] + " = " + std::to_string(bd[i]) +
                               " is outside the device limit [1, " + std::to_string(kMaxBlockDim[i]) + "]");
    if (gd[i] == 0 || gd[i] > kMaxGridDim[i])
      throw std::runtime_error(where + "grid dimension " + axis[i] + " = " + std::to_string(gd[i]) +
                               " is outside the device limit [1, " + std::to_string(kMaxGridDim[i]) + "]");
  }
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  if (threads > kMaxThreadsPerBlock)
    throw std::runtime_error(where + std::to_string(threads) + " threads per block exceed the device limit of " +
                             std::to_string(kMaxThreadsPerBlock));
  if (dynamic_smem > kMaxSharedPerBlock)
    throw std::runtime_error(where + std::to_string(dynamic_smem) +
                             " bytes of dynamic shared memory exceed the device limit of " +
                             std::to_string(kMaxSharedPerBlock));

  std::lock_guard<std::mutex> lock(launch_mutex());
  if (g_cur) throw std::runtime_error(where + "launched from inside a kernel (not supported)");
  Scheduler& s = sched();
  s.ensure(static_cast<unsigned>(threads));
  s.body = body;
  s.body_ctx = ctx;
  s.n = static_cast<unsigned>(threads);
  s.dynamic_smem = dynamic_smem;
  s.reverse = env_flag("ML_INTERP_REVERSE");
  g_block_dim = block;
  g_grid_dim = grid;
  const uint64_t blocks = static_cast<uint64_t>(grid.x) * grid.y * grid.z;
  for (uint64_t k = 0; k < blocks; ++k) {
    const uint64_t b = s.reverse ? blocks - 1 - k : k;
    g_block_idx = uint3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                        static_cast<unsigned>(b / (static_cast<uint64_t>(grid.x) * grid.y))};
    try {
      run_block(s);
    } catch (const std::exception& e) {
      g_cur = nullptr;
      for (unsigned t = 0; t < s.n; ++t) F(s, t).started = false;  // abandoned mid-kernel
      throw std::runtime_error(where + "block " + str(g_block_idx) + ": " + e.what());
    }
  }
}

}  // namespace mlemu
