// train — trains a model on an image set (issue 5); see experiments/training/train.h for the
// outputs. Example (the notebooks' SVHN recipe on the asym variant):
//   train --model vgg_small --dataset svhn --data-dir DIR --variant asym --recipe svhn --out out/asym
// The 32-px Fashion-MNIST net of the encoding study's standard preset (eickenberg2017-encoding.md §6):
//   train --model vgg_small --dataset fashion-mnist --pad 2 --epochs 1 --optimizer adam --lr 1e-3 --seed 0 --out out/vgg32
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/training/train.h"

int main(int argc, char** argv) {
  using ml::experiments::TrainConfig;
  TrainConfig c;
  CLI::App app{"Train a network of mirrorlab on an image set; writes log.csv, checkpoints, final.json, curves.png"};
  std::string recipe;
  app.add_option("--recipe", recipe, "cifar10 | svhn: the study notebooks' optimiser and schedule (flags given too override it)");
  app.add_option("--model", c.model, "vgg_small | vgg_small_paper | alexnet | alexnet_lrn | vgg16")->capture_default_str();
  app.add_option("--dataset", c.dataset, "fashion-mnist | cifar10 | svhn | folder")->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "folder of the dataset's files (default for fashion-mnist: Debian's)");
  app.add_option("--variant", c.variant, "none | sym | asym (mirrored label sets)")->capture_default_str();
  auto* epochs = app.add_option("--epochs", c.epochs)->capture_default_str();
  auto* batch = app.add_option("--batch-size", c.batch_size)->capture_default_str();
  auto* optimizer = app.add_option("--optimizer", c.optimizer, "sgd | adam")->capture_default_str();
  auto* lr = app.add_option("--lr", c.lr)->capture_default_str();
  auto* momentum = app.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  auto* lr_step = app.add_option("--lr-step", c.lr_step, "multiply lr by --lr-gamma every this many epochs (0: never)")
                      ->capture_default_str();
  auto* lr_gamma = app.add_option("--lr-gamma", c.lr_gamma)->capture_default_str();
  auto* wd = app.add_option("--weight-decay", c.weight_decay)->capture_default_str();
  auto* patience = app.add_option("--early-stop-patience", c.early_stop_patience, "epochs without a better validation loss (0: off)")
                       ->capture_default_str();
  app.add_option("--val-fraction", c.val_fraction, "held out for validation")->capture_default_str();
  app.add_option("--seed", c.seed)->capture_default_str();
  app.add_option("--device", c.device, "cpu | cuda")->capture_default_str();
  app.add_option("--threads", c.threads, "OpenMP threads (0: all)")->capture_default_str();
  app.add_option("--out", c.out, "run folder")->capture_default_str();
  app.add_flag("--resume", c.resume, "continue from OUT/checkpoint.safetensors");
  app.add_option("--image-size", c.image_size, "folder datasets: resize to this size");
  app.add_option("--pad", c.pad,
                 "border added to every image, in pixels (Fashion-MNIST + --pad 2: the 32-px net of the encoding study)")
      ->capture_default_str();
  app.add_option("--pad-value", c.pad_value, "pixel value of the border, 0..255 (Fashion-MNIST's background: 0)")
      ->capture_default_str();
  app.add_option("--composites", c.composites,
                 "share of the training images replaced by their item on a 1/f or grating background in a gray aperture "
                 "(the encoding study's stimuli; one-channel sets; the test set stays plain)")
      ->capture_default_str();
  app.add_option("--max-batches", c.max_batches, "stop each epoch after this many batches (quick checks)");
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!recipe.empty()) {
      // The recipe sets defaults; options given on the command line win.
      TrainConfig given = c;
      ml::experiments::apply_recipe(c, recipe);
      if (epochs->count()) c.epochs = given.epochs;
      if (batch->count()) c.batch_size = given.batch_size;
      if (optimizer->count()) c.optimizer = given.optimizer;
      if (lr->count()) c.lr = given.lr;
      if (momentum->count()) c.momentum = given.momentum;
      if (lr_step->count()) c.lr_step = given.lr_step;
      if (lr_gamma->count()) c.lr_gamma = given.lr_gamma;
      if (wd->count()) c.weight_decay = given.weight_decay;
      if (patience->count()) c.early_stop_patience = given.early_stop_patience;
    }
    c.progress = !quiet;
    ml::experiments::train(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 1;
  }
  return 0;
}
