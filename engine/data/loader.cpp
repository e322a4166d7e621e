#include "engine/data/loader.h"

#include <numeric>

#include "engine/data/transforms.h"
#include "engine/generator.h"

namespace ml {

Loader::Loader(const Dataset& ds, int64_t batch_size, bool shuffle, uint64_t seed, std::vector<float> mean,
               std::vector<float> std, bool drop_last)
    : ds_(ds),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      mean_(std::move(mean)),
      std_(std::move(std)),
      drop_last_(drop_last) {
  validate(ds_);
  ML_CHECK(batch_size_ > 0, "Loader of '", ds_.name, "': batch size must be positive, got ", batch_size_);
  ML_CHECK(mean_.size() == std_.size(), "Loader of '", ds_.name, "': mean has ", mean_.size(), " entries but std has ",
           std_.size());
  if (!mean_.empty()) {
    ML_CHECK(static_cast<int64_t>(mean_.size()) == ds_.channels(), "Loader of '", ds_.name, "': mean/std have ",
             mean_.size(), " entries for images with ", ds_.channels(), " channels ", shape_str(ds_.pixels.shape()));
    for (size_t c = 0; c < std_.size(); ++c)
      ML_CHECK(std_[c] > 0, "Loader of '", ds_.name, "': std[", c, "] = ", std_[c], " must be positive");
  }
  thread_ = std::thread([this] { worker(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();  // the worker checks stop_ whenever it holds the lock, so this returns after at most one batch
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = ds_.size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  if (!shuffle_) {
    std::vector<int64_t> order(static_cast<size_t>(ds_.size()));
    std::iota(order.begin(), order.end(), 0);
    return order;
  }
  Generator g(seed_ + static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ULL);
  return g.permutation(ds_.size());
}

void Loader::set_batch_transform(BatchTransform f) {
  std::lock_guard<std::mutex> lk(mu_);
  ML_CHECK(!started_, "Loader::set_batch_transform on '", ds_.name, "': set it before the first start_epoch");
  transform_ = std::move(f);
}

void Loader::start_epoch(int64_t epoch) {
  ML_CHECK(epoch >= 0, "Loader::start_epoch: epoch must be >= 0, got ", epoch);
  auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));  // outside the lock: O(N)
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++generation_;
    order_ = std::move(order);
    produced_ = 0;
    consumed_ = 0;
    ready_.reset();
    started_ = true;
  }
  cv_.notify_all();
}

bool Loader::next(Tensor& x, Tensor& y) {
  std::unique_ptr<Batch> batch;
  {
    std::unique_lock<std::mutex> lk(mu_);
    ML_CHECK(started_, "Loader::next on '", ds_.name, "': call start_epoch first");
    if (consumed_ >= batches_per_epoch()) return false;
    cv_.wait(lk, [&] { return ready_ != nullptr; });
    batch = std::move(ready_);
    ++consumed_;
  }
  cv_.notify_all();  // the worker may start on the following batch
  if (batch->error) std::rethrow_exception(batch->error);
  x = std::move(batch->x);
  y = std::move(batch->y);
  return true;
}

void Loader::worker() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || (started_ && !ready_ && produced_ < batches_per_epoch()); });
    if (stop_) return;
    const uint64_t generation = generation_;
    const auto order = order_;
    const int64_t b = produced_;
    lk.unlock();
    Batch batch;
    try {
      batch = make_batch(*order, b);
    } catch (...) {
      batch.error = std::current_exception();
    }
    lk.lock();
    if (generation != generation_) continue;  // start_epoch ran meanwhile: this batch belongs to no one
    ready_ = std::make_unique<Batch>(std::move(batch));
    ++produced_;
    cv_.notify_all();
  }
}

Loader::Batch Loader::make_batch(const std::vector<int64_t>& order, int64_t b) const {
  const int64_t N = ds_.size();
  const int64_t first = b * batch_size_;
  const int64_t B = std::min(batch_size_, N - first);
  const int64_t C = ds_.channels(), HW = ds_.height() * ds_.width();
  Batch out;
  out.x = Tensor::empty({B, C, ds_.height(), ds_.width()}, DType::F32);
  out.y = Tensor::empty({B}, DType::I32);
  const uint8_t* px = ds_.pixels.data_u8();
  const int32_t* labels = ds_.labels.data_i32();
  float* x = out.x.data();
  int32_t* y = out.y.data_i32();
  for (int64_t k = 0; k < B; ++k) {
    const int64_t i = order[static_cast<size_t>(first + k)];
    pixels_to_normalized(x + k * C * HW, px + i * C * HW, C, HW, mean_, std_);
    y[k] = labels[i];
  }
  if (transform_) transform_(out.x, out.y);
  return out;
}

}  // namespace ml
