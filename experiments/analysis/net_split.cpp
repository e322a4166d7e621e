#include "experiments/analysis/net_split.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/optim.h"

namespace ml::analysis {

NetSplit::NetSplit(AnalysisNet& net, const std::string& tap) : tap_(tap) {
  nn::Module& root = *net.model.net;
  root.eval();
  ML_CHECK(dynamic_cast<nn::Sequential*>(&root) != nullptr, "NetSplit: model ", net.model.name, " is not sequential");
  bool inside = false, found = false;
  std::vector<std::string> names;
  for (auto& [name, m] : root.named_modules()) {
    auto* seq = dynamic_cast<nn::Sequential*>(m);
    const bool in_tap = name == tap || name.rfind(tap + ".", 0) == 0;
    if (found && inside && !in_tap) cut_ = leaves_.size();  // first leaf after the tap's subtree
    inside = in_tap;
    if (in_tap) found = true;
    if (seq != nullptr) continue;
    // A leaf with children would hide its own execution order from us.
    ML_CHECK(m->named_modules().empty(), "NetSplit: module '", name, "' of ", net.model.name,
             " is a container other than Sequential; cannot cut inside it");
    leaves_.push_back(m);
    names.push_back(name);
  }
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
  ML_CHECK(found, "NetSplit: model ", net.model.name, " has no module '", tap, "' (modules: ", valid, ")");
  if (inside) cut_ = leaves_.size();  // the tap is the last module
}

Tensor NetSplit::phi(const Tensor& x) const {
  NoGradGuard ng;
  Tensor h = x;
  for (size_t i = 0; i < cut_; ++i) h = (*leaves_[i])(h);
  return h.detach();
}

Tensor NetSplit::psi(const Tensor& h) const {
  Tensor y = h;
  for (size_t i = cut_; i < leaves_.size(); ++i) y = (*leaves_[i])(y);
  return y;
}

Tensor normalise(const AnalysisNet& net, const Tensor& images) {
  const int64_t C = net.model.in_channels;
  ML_CHECK(images.dim() == 4 && images.size(1) == C, net.model.name, ": images must be (B, ", C, ", H, W), got ",
           images.str());
  const Tensor mean = Tensor::from_vector({1, C, 1, 1}, net.norm.mean, net.device);
  const Tensor stdv = Tensor::from_vector({1, C, 1, 1}, net.norm.std, net.device);
  return div(sub(images.to(net.device), mean), stdv).detach();
}

EarlyStop::EarlyStop(int64_t patience, double min_delta)
    : patience_(patience), min_delta_(min_delta), best_(std::numeric_limits<double>::infinity()) {
  ML_CHECK(patience >= 1, "EarlyStop: patience must be >= 1, got ", patience);
  ML_CHECK(min_delta >= 0, "EarlyStop: min_delta must be >= 0, got ", min_delta);
}

bool EarlyStop::update(double validation_loss) {
  ++epochs_;
  // A NaN never improves (and the caller's divergence check names it).
  const bool better = best_epoch_ == 0 ? std::isfinite(validation_loss)
                                       : validation_loss < best_ - min_delta_ * std::fabs(best_);
  if (better) {
    best_ = validation_loss;
    best_epoch_ = epochs_;
    since_best_ = 0;
  } else {
    ++since_best_;
  }
  return better;
}

FrozenOptimizer parse_frozen_optimizer(const std::string& name, const std::string& what) {
  if (name == "sgd") return FrozenOptimizer::SGD;
  if (name == "adam") return FrozenOptimizer::Adam;
  throw Error(detail::cat(what, " must be sgd or adam, got '", name, "'"));
}

const char* frozen_optimizer_name(FrozenOptimizer o) { return o == FrozenOptimizer::Adam ? "adam" : "sgd"; }

FrozenTrainResult train_frozen(const std::vector<Tensor>& params, const Tensor& images, const Tensor& labels,
                               Generator& gen, const FrozenTrainOptions& o,
                               const std::function<Tensor(const Tensor&, const Tensor&)>& loss) {
  ML_CHECK(images.dim() == 4 && labels.dim() == 1 && images.size(0) == labels.size(0) && images.size(0) > 0, o.what,
           ": ", images.str(), " images for ", labels.str(), " labels");
  ML_CHECK(o.batch > 0 && o.epochs > 0 && o.lr > 0, o.what, ": batch, epochs and learning rate must be > 0");
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optimizer == FrozenOptimizer::Adam) opt = std::make_unique<optim::Adam>(params, static_cast<float>(o.lr));
  else opt = std::make_unique<optim::SGD>(params, static_cast<float>(o.lr), 0.9f, 5e-4f);
  const int64_t N = images.size(0), per = images.numel() / N;
  EarlyStop early(std::max<int64_t>(1, o.patience));
  std::vector<Tensor> best;  // parameters of the best validated epoch
  FrozenTrainResult res;
  res.best_validation = std::numeric_limits<double>::quiet_NaN();
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto order = gen.permutation(N);
    double sum = 0;
    int64_t steps = 0;
    for (int64_t i0 = 0; i0 < N; i0 += o.batch) {
      const int64_t i1 = std::min(N, i0 + o.batch);
      Tensor xb = Tensor::empty({i1 - i0, images.size(1), images.size(2), images.size(3)});
      Tensor yb = Tensor::empty({i1 - i0}, DType::I32);
      for (int64_t r = 0; r < i1 - i0; ++r) {
        const int64_t k = order[static_cast<size_t>(i0 + r)];
        std::copy_n(images.data() + k * per, per, xb.data() + r * per);
        yb.data_i32()[r] = labels.data_i32()[k];
      }
      const Tensor l = loss(xb, yb);
      opt->zero_grad();
      l.backward();
      opt->step();
      const double v = l.item();
      ML_CHECK(std::isfinite(v), o.what, ": the loss diverged (", v, ") at epoch ", epoch + 1, " step ", steps + 1,
               "; lower the learning rate (", frozen_optimizer_name(o.optimizer), " lr ", o.lr, ")");
      sum += v;
      ++steps;
      if (o.progress)
        std::fprintf(stderr, "\r  %s: epoch %lld/%lld, step %lld, loss %.4f   ", o.what.c_str(),
                     static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs), static_cast<long long>(steps),
                     sum / static_cast<double>(steps));
    }
    res.epochs_run = epoch + 1;
    if (!o.validate) continue;
    double val = 0;
    {
      NoGradGuard ng;
      val = o.validate();
    }
    ML_CHECK(std::isfinite(val), o.what, ": the validation loss diverged (", val, ") at epoch ", epoch + 1,
             "; lower the learning rate (", frozen_optimizer_name(o.optimizer), " lr ", o.lr, ")");
    if (o.progress) std::fprintf(stderr, "validation %.4f", val);
    if (early.update(val)) {
      best.clear();
      for (const Tensor& p : params) best.push_back(p.detach().clone());
    }
    if (early.stop()) break;
  }
  if (o.progress) std::fprintf(stderr, "\n");
  res.best_epoch = res.epochs_run;
  if (o.validate) {
    // Restore the best epoch's parameters in place (the caller holds these tensors).
    NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor p = params[i];
      p.copy_(best[i]);
    }
    res.best_epoch = early.best_epoch();
    res.best_validation = early.best();
    if (o.progress)
      std::fprintf(stderr, "  %s: best validation loss %.4f at epoch %lld of %lld run (cap %lld)\n", o.what.c_str(),
                   early.best(), static_cast<long long>(early.best_epoch()), static_cast<long long>(res.epochs_run),
                   static_cast<long long>(o.epochs));
  }
  return res;
}

HeldOut hold_out(const Tensor& x, const Tensor& y, double fraction, const std::string& what) {
  ML_CHECK(fraction >= 0 && fraction < 1, what, ": validation share must be in [0, 1), got ", fraction);
  const int64_t N = x.size(0);
  if (fraction == 0) return {x, y, Tensor(), Tensor()};
  const int64_t n_val = std::max<int64_t>(1, static_cast<int64_t>(std::llround(fraction * static_cast<double>(N))));
  ML_CHECK(N - n_val >= 1, what, ": ", N, " rows are too few to hold out ", n_val, " for validation");
  return {x.slice(0, N - n_val), y.slice(0, N - n_val), x.slice(N - n_val, N), y.slice(N - n_val, N)};
}

double mean_loss(const Tensor& x, const Tensor& y, int64_t batch,
                 const std::function<Tensor(const Tensor&, const Tensor&)>& loss) {
  NoGradGuard ng;
  double sum = 0;
  for (int64_t i0 = 0; i0 < x.size(0); i0 += batch) {
    const int64_t i1 = std::min(x.size(0), i0 + batch);
    sum += loss(x.slice(i0, i1), y.slice(i0, i1)).item() * static_cast<double>(i1 - i0);
  }
  return sum / static_cast<double>(x.size(0));
}

void channel_stats(const Tensor& x, std::vector<double>& mu, std::vector<double>& sd) {
  ML_CHECK(x.dim() == 4 && x.size(0) > 0, "channel_stats: need (N >= 1, C, H, W), got ", x.str());
  const int64_t N = x.size(0), C = x.size(1), sites = x.numel() / (N * C);
  mu.assign(static_cast<size_t>(C), 0.0);
  sd.assign(static_cast<size_t>(C), 1.0);
  std::vector<double> s2(static_cast<size_t>(C), 0.0);
  const float* d = x.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < sites; ++i) {
        const double v = d[(n * C + c) * sites + i];
        mu[static_cast<size_t>(c)] += v;
        s2[static_cast<size_t>(c)] += v * v;
      }
  const double count = static_cast<double>(N * sites);
  for (size_t c = 0; c < mu.size(); ++c) {
    mu[c] /= count;
    const double var = std::max(0.0, s2[c] / count - mu[c] * mu[c]);
    sd[c] = var > 1e-12 ? std::sqrt(var) : 1.0;
  }
}

double topk_error(const Tensor& logits, const Tensor& labels, int64_t k) {
  ML_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0), "topk_error: logits ",
           logits.str(), " and labels ", labels.str(), " do not match");
  const auto v = logits.to(Device::CPU).to_vector();
  const auto l = labels.to(Device::CPU).to_vector_i32();
  const int64_t N = logits.size(0), C = logits.size(1);
  int64_t wrong = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float target = v[static_cast<size_t>(n * C + l[static_cast<size_t>(n)])];
    int64_t above = 0;  // classes scoring strictly higher than the true one
    for (int64_t c = 0; c < C; ++c) above += v[static_cast<size_t>(n * C + c)] > target;
    wrong += above >= k;
  }
  return N ? static_cast<double>(wrong) / static_cast<double>(N) : 0.0;
}

}  // namespace ml::analysis
