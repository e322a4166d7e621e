// experiments/analysis/v1_training.cpp — see the header.
#include "experiments/analysis/v1_training.h"

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>

#include "engine/autograd.h"
#include "engine/generator.h"
#include "engine/ops.h"
#include "engine/optim.h"

namespace ml::analysis {

EarlyStopSchedule::Action EarlyStopSchedule::on_validation(double loss) {
  if (loss < best_) {
    best_ = loss;
    since_best_ = 0;
    return Action::NewBest;
  }
  if (++since_best_ < patience_) return Action::Continue;
  since_best_ = 0;
  return ++triggers_ > decays_ ? Action::Stop : Action::RestoreAndDecay;
}

const char* EarlyStopSchedule::name(Action a) {
  switch (a) {
    case Action::NewBest: return "best";
    case Action::Continue: return "continue";
    case Action::RestoreAndDecay: return "restore_decay";
    case Action::Stop: return "stop";
  }
  return "?";
}

namespace {
// Rows `idx` of x (n, ...) as a new tensor.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& idx, size_t begin, size_t count) {
  Shape s = x.shape();
  const int64_t row = x.numel() / s[0];
  s[0] = static_cast<int64_t>(count);
  Tensor out = Tensor::empty(s);
  for (size_t i = 0; i < count; ++i)
    std::memcpy(out.data() + static_cast<int64_t>(i) * row, x.data() + idx[begin + i] * row, sizeof(float) * static_cast<size_t>(row));
  return out;
}

nn::NamedTensors snapshot(const nn::NamedTensors& s) {
  nn::NamedTensors out;
  for (const auto& [n, t] : s) out.emplace_back(n, t.detach().clone());
  return out;
}
}  // namespace

Tensor v1_predict(models::V1Model& model, const Tensor& images, int64_t batch) {
  NoGradGuard ng;
  const bool was = model.is_training();
  model.eval();
  std::vector<Tensor> parts;
  const Device dev = model.readout->mask.device();
  for (int64_t i = 0; i < images.size(0); i += batch)
    parts.push_back(model.forward(images.slice(i, std::min(images.size(0), i + batch)).to(dev)).to(Device::CPU));
  model.train(was);
  return parts.size() == 1 ? parts[0] : cat(parts, 0);
}

double v1_eval_loss(models::V1Model& model, const Tensor& images, const Tensor& responses, int64_t batch) {
  const Tensor pred = v1_predict(model, images, batch);  // on the CPU
  NoGradGuard ng;
  return models::v1_poisson_loss(pred, responses).item();
}

V1FitResult fit_v1_model(models::V1Model& model, const Tensor& train_images, const Tensor& train_responses,
                         const Tensor& val_images, const Tensor& val_responses, const V1FitOptions& o) {
  ML_CHECK(train_images.size(0) == train_responses.size(0), "fit_v1_model: ", train_images.size(0),
           " training images but ", train_responses.size(0), " response rows");
  ML_CHECK(val_images.size(0) == val_responses.size(0), "fit_v1_model: ", val_images.size(0),
           " validation images but ", val_responses.size(0), " response rows");
  ML_CHECK(o.batch >= 2 && o.batch <= train_images.size(0), "fit_v1_model: batch ", o.batch, " must be in [2, ",
           train_images.size(0), "] (training images)");
  ML_CHECK(o.interval >= 1 && o.patience >= 1 && o.max_steps >= 1, "fit_v1_model: interval, patience and max_steps must be >= 1");
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const std::clock_t c0 = std::clock();  // process CPU time, all threads: wall time is inflated on a shared machine
  model.to(o.device);
  optim::Adam opt(model.parameters(), o.lr, 0.9f, 0.999f, 1e-8f);
  EarlyStopSchedule sched(o.patience, o.decays);
  Generator gen(o.seed);
  const int64_t n = train_images.size(0), per_epoch = n / o.batch;
  std::vector<int64_t> order;
  int64_t pos = per_epoch;  // forces a shuffle at the first step
  nn::NamedTensors best_model = snapshot(model.state_dict()), best_opt = snapshot(opt.state());
  V1FitResult res;
  int64_t step = 0;
  double loss_acc = 0;
  int64_t loss_n = 0;
  auto restore_best = [&] {
    model.load_state_dict(best_model);
    opt.load_state(best_opt);  // empty before the first step: Adam starts afresh
  };
  model.train();
  while (true) {
    if (pos >= per_epoch) {
      order = gen.permutation(n);
      pos = 0;
    }
    const Tensor x = gather_rows(train_images, order, static_cast<size_t>(pos * o.batch), static_cast<size_t>(o.batch)).to(o.device);
    const Tensor y = gather_rows(train_responses, order, static_cast<size_t>(pos * o.batch), static_cast<size_t>(o.batch)).to(o.device);
    ++pos;
    opt.zero_grad();
    const Tensor rate = model.forward(x);
    const Tensor poisson = models::v1_poisson_loss(rate, y);
    const Tensor loss = add(poisson, model.regularizer());
    loss.backward();
    opt.step();
    ++step;
    ++res.total_updates;
    loss_acc += poisson.item();
    ++loss_n;
    const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    const bool out_of_time = o.time_limit_s > 0 && elapsed > o.time_limit_s;
    if (step % o.interval == 0 || step >= o.max_steps || out_of_time) {
      const double val = v1_eval_loss(model, val_images, val_responses);
      model.train();
      const auto act = sched.on_validation(val);
      V1FitLogRow row{step, loss_acc / static_cast<double>(loss_n), val, opt.lr, elapsed, EarlyStopSchedule::name(act)};
      loss_acc = 0, loss_n = 0;
      if (act == EarlyStopSchedule::Action::NewBest) {
        best_model = snapshot(model.state_dict());
        best_opt = snapshot(opt.state());
        res.best_step = step;
        res.best_val_loss = val;
      }
      if (o.progress)
        std::fprintf(stderr, "[%s] step %lld  train %.4f  val %.4f (best %.4f @ %lld)  lr %.2g  %.1f s  %s\n",
                     o.label.c_str(), static_cast<long long>(step), row.train_loss, val, sched.best(),
                     static_cast<long long>(res.best_step), static_cast<double>(opt.lr), elapsed, row.action.c_str());
      res.log.push_back(row);
      if (act == EarlyStopSchedule::Action::RestoreAndDecay) {
        restore_best();
        step = std::max<int64_t>(0, step - static_cast<int64_t>(o.patience) * o.interval);
        opt.lr *= 0.1f;
      } else if (act == EarlyStopSchedule::Action::Stop) {
        restore_best();
        res.stop_reason = "early_stopping";
        break;
      }
      if (out_of_time) {
        restore_best();
        res.stop_reason = "time_limit";
        break;
      }
      if (step >= o.max_steps) {
        if (o.restore_best_at_cap) restore_best();
        res.stop_reason = "step_cap";
        break;
      }
    }
  }
  res.steps = step;
  res.best_val_loss = sched.best();
  res.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  res.cpu_seconds = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  return res;
}

}  // namespace ml::analysis
