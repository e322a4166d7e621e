// experiments/training/train.h — the training driver behind the `train` program: data,
// model, optimizer and schedule from a TrainConfig; a live progress line; and a run folder a
// researcher can reuse:
//   log.csv                 epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds
//   checkpoint.safetensors  model + optimizer + RNG state after every epoch (atomic write);
//                           --resume continues exactly where it stopped
//   best.safetensors        the weights with the lowest validation loss (PyTorch names)
//   final.safetensors       the weights after the last epoch (the study analyses these)
//                           Both carry metadata "model" (name, input, classes, the
//                           training set's normalisation, and the pad and pad_value the
//                           images were bordered with) for the analysis programs.
//   final.json              test loss/accuracy of the best weights, full config, seed, revision
//   curves.png              loss and accuracy per epoch (tools/plot_curves.py)
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"

namespace ml::experiments {

struct TrainConfig {
  std::string model = "vgg_small";
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | svhn | folder
  std::string data_dir;                   // "" = the dataset's default (Debian's Fashion-MNIST)
  std::string variant = "none";           // none | sym | asym (SCIENCE.md, mirrored label sets)
  int64_t epochs = 10;
  int64_t batch_size = 256;
  std::string optimizer = "adam";  // sgd | adam
  float lr = 1e-3f;
  float momentum = 0.9f;
  int64_t lr_step = 0;  // 0: constant learning rate
  float lr_gamma = 0.5f;
  float weight_decay = 0.f;
  int64_t early_stop_patience = 0;  // 0: never stop early
  double val_fraction = 0.1;
  uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0;  // 0: OpenMP's default
  std::string out = "out/train";
  bool resume = false;
  int64_t image_size = 0;     // folder datasets: resize to this (default 32)
  int64_t pad = 0;            // border of pad_value added to every image (engine/data/pad.h):
  int64_t pad_value = 0;      // Fashion-MNIST + pad 2 = the 32-px net of encoding §6 (0 = its background)
  double composites = 0;      // share of training images shown as SimVox composites (engine/data/composite.h)
  int64_t max_batches = 0;    // >0: stop each epoch after this many batches (smoke tests)
  bool progress = true;
};

nlohmann::json to_json(const TrainConfig& c);

// Applies a recipe of the study's notebooks (SCIENCE.md): "cifar10" = SGD lr 1e-3, momentum
// 0.9, halved every 50 epochs; "svhn" = Adam lr 1e-5, halved every 20 epochs; both batch 256,
// up to 250 epochs, early stopping with patience 200.
void apply_recipe(TrainConfig& c, const std::string& recipe);

struct TrainResult {
  double test_loss = 0, test_acc = 0;
  int64_t best_epoch = -1, epochs_run = 0;
  double best_val_loss = 0;
};

// The train and test sets named by the config, with the variant applied (to both, as the
// notebooks do).
struct Datasets {
  Dataset train, test;
};
Datasets load_datasets(const TrainConfig& c);

TrainResult train(const TrainConfig& c);

}  // namespace ml::experiments
