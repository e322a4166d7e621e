// engine/data/loader.h — mini-batches of a Dataset for training and evaluation.
//
// Each batch is x: float32 (B, C, H, W) = (pixel/255 - mean[c]) / std[c] (ToTensor then
// Normalize, engine/data/transforms.h) and y: int32 (B), both on the CPU.
//
// Order. With shuffle, epoch e visits the images in Generator(seed + e * 0x9E3779B97F4A7C15)
// .permutation(N) order: the order depends only on (seed, epoch), never on what ran before,
// so a run resumed at epoch e sees exactly the batches the uninterrupted run saw. (The
// constant is 2^64 / golden ratio: consecutive epochs get far-apart Philox keys.) Without
// shuffle the order is 0..N-1. The last batch is partial (N mod B images) unless drop_last.
//
// Overlap. A worker thread assembles the next batch (gather, convert, normalise) while the
// caller computes on the current one: one batch ahead, handed over under a mutex with a
// condition variable. An exception in the worker is rethrown by next(). Starting a new
// epoch discards whatever was prepared for the old one; the destructor stops and joins the
// worker even in the middle of an epoch.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/data/dataset.h"

namespace ml {

class Loader {
 public:
  // mean/std: one entry per channel, or both empty for plain pixel/255.
  Loader(const Dataset& ds, int64_t batch_size, bool shuffle, uint64_t seed, std::vector<float> mean = {},
         std::vector<float> std = {}, bool drop_last = false);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // A function applied to every batch on the worker thread after normalisation (channel
  // conversion for a net that expects RGB, a resize, an augmentation): it may replace x and
  // y. Set it before the first start_epoch. Its exceptions reach the caller through next().
  using BatchTransform = std::function<void(Tensor& x, Tensor& y)>;
  void set_batch_transform(BatchTransform f);

  // Begins epoch `epoch` (any order of calls; an unfinished epoch is abandoned).
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch into x, y; false (x, y untouched) after the last.
  bool next(Tensor& x, Tensor& y);

  int64_t batches_per_epoch() const;
  int64_t size() const { return ds_.size(); }
  const Dataset& dataset() const { return ds_; }
  // The visiting order of `epoch` (what start_epoch(epoch) will use).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  struct Batch {
    Tensor x, y;
    std::exception_ptr error;
  };
  void worker();
  Batch make_batch(const std::vector<int64_t>& order, int64_t b) const;

  Dataset ds_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  std::vector<float> mean_, std_;
  bool drop_last_;
  BatchTransform transform_;  // written before the worker's first batch, then only read

  // Shared with the worker, guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  uint64_t generation_ = 0;                           // bumped by start_epoch; stale work is dropped
  std::shared_ptr<const std::vector<int64_t>> order_;  // the current epoch's order
  int64_t produced_ = 0;                              // batches of this epoch handed to `ready_`
  int64_t consumed_ = 0;                              // batches of this epoch returned by next()
  std::unique_ptr<Batch> ready_;                      // at most one batch ahead
  std::thread thread_;                                // last member: starts after the state above exists
};

}  // namespace ml
