// experiments/analysis/v1_training.h — the V1 model's training schedule (science file §2.5):
// Adam, minibatches reshuffled every epoch (last partial batch dropped), the Poisson loss plus
// regularisers; every `interval` steps the Poisson loss on the whole validation set (BN in
// inference mode, no regularisers), a checkpoint when it is the best so far; after `patience`
// checks without gain the best checkpoint is restored (Adam state too), the step counter rewound
// by patience x interval and the learning rate divided by 10; the trigger after the last decay
// ends the run (with the best weights restored). At the step cap the current weights stay unless
// restore_best_at_cap.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/v1_data.h"
#include "models/v1_model.h"

namespace ml::analysis {

// The decision logic alone, so a scripted loss sequence can test it.
class EarlyStopSchedule {
 public:
  enum class Action { NewBest, Continue, RestoreAndDecay, Stop };
  EarlyStopSchedule(int patience, int decays) : patience_(patience), decays_(decays) {}
  Action on_validation(double loss);
  double best() const { return best_; }
  int triggers() const { return triggers_; }
  int checks_without_gain() const { return since_best_; }
  static const char* name(Action a);

 private:
  int patience_, decays_;
  double best_ = 1e300;
  int since_best_ = 0, triggers_ = 0;
};

struct V1FitOptions {
  int64_t batch = 256;
  float lr = 0.002f;
  int64_t interval = 50;   // steps between validations
  int patience = 5;
  int decays = 1;          // learning-rate drops before the run ends (0.002 -> 0.0002 -> stop)
  int64_t max_steps = 10000;
  bool restore_best_at_cap = false;
  uint64_t seed = 0;       // minibatch order
  bool progress = false;   // a progress line on stderr
  std::string label;       // shown in the progress line
  double time_limit_s = 0; // stop (best restored) after this wall time; 0: none
  Device device = Device::CPU;  // where the model lives; batches are copied there
};

struct V1FitLogRow {
  int64_t step;
  double train_loss, val_loss, lr, seconds;
  std::string action;
};

struct V1FitResult {
  int64_t steps = 0, best_step = 0, total_updates = 0;
  double best_val_loss = 0, seconds = 0;
  double cpu_seconds = 0;  // process CPU time over the fit (all threads)
  std::string stop_reason;
  std::vector<V1FitLogRow> log;
};

// Poisson loss (§2.4, batch mean of the neuron sum) of the model on (images, responses), in
// inference mode, batch by batch.
double v1_eval_loss(models::V1Model& model, const Tensor& images, const Tensor& responses, int64_t batch = 256);
// Predicted rates (images, N) on the CPU, inference mode; batches go to the model's device.
Tensor v1_predict(models::V1Model& model, const Tensor& images, int64_t batch = 256);

V1FitResult fit_v1_model(models::V1Model& model, const Tensor& train_images, const Tensor& train_responses,
                         const Tensor& val_images, const Tensor& val_responses, const V1FitOptions& o);

}  // namespace ml::analysis
