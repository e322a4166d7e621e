#include "experiments/training/train.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/autograd.h"
#include "engine/data/cifar10.h"
#include "engine/data/idx.h"
#include "engine/data/image_folder.h"
#include "engine/data/loader.h"
#include "engine/data/mirror.h"
#include "engine/data/composite.h"
#include "engine/data/pad.h"
#include "engine/data/split.h"
#include "engine/data/svhn.h"
#include "engine/device.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/nn/layers.h"
#include "engine/optim.h"
#include "experiments/analysis/plot_script.h"
#include "models/model.h"

namespace ml::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

json to_json(const TrainConfig& c) {
  return json{{"model", c.model},
              {"dataset", c.dataset},
              {"data_dir", c.data_dir},
              {"variant", c.variant},
              {"epochs", c.epochs},
              {"batch_size", c.batch_size},
              {"optimizer", c.optimizer},
              {"lr", c.lr},
              {"momentum", c.momentum},
              {"lr_step", c.lr_step},
              {"lr_gamma", c.lr_gamma},
              {"weight_decay", c.weight_decay},
              {"early_stop_patience", c.early_stop_patience},
              {"val_fraction", c.val_fraction},
              {"seed", c.seed},
              {"device", c.device},
              {"threads", c.threads},
              {"image_size", c.image_size},
              {"pad", c.pad},
              {"pad_value", c.pad_value},
              {"composites", c.composites},
              {"max_batches", c.max_batches}};
}

void apply_recipe(TrainConfig& c, const std::string& recipe) {
  c.batch_size = 256;
  c.epochs = 250;
  c.early_stop_patience = 200;
  c.val_fraction = 0.1;
  if (recipe == "cifar10") {
    c.optimizer = "sgd";
    c.lr = 1e-3f;
    c.momentum = 0.9f;
    c.lr_step = 50;
    c.lr_gamma = 0.5f;
  } else if (recipe == "svhn") {
    c.optimizer = "adam";
    c.lr = 1e-5f;
    c.lr_step = 20;
    c.lr_gamma = 0.5f;
  } else {
    throw Error("--recipe: unknown recipe '" + recipe + "' (cifar10 or svhn)");
  }
}

Datasets load_datasets(const TrainConfig& c) {
  ML_CHECK(c.pad >= 0 && c.pad <= 256, "--pad must be in [0, 256] pixels, got ", c.pad);
  ML_CHECK(c.pad_value >= 0 && c.pad_value <= 255, "--pad-value must be a pixel value in [0, 255], got ", c.pad_value);
  ML_CHECK(c.composites >= 0 && c.composites <= 1, "--composites must be a share in [0, 1], got ", c.composites);
  Datasets d;
  if (c.dataset == "fashion-mnist") {
    const std::string dir = c.data_dir.empty() ? kFashionMnistDir : c.data_dir;
    d.train = load_fashion_mnist(dir, true);
    d.test = load_fashion_mnist(dir, false);
  } else if (c.dataset == "cifar10") {
    ML_CHECK(!c.data_dir.empty(), "--dataset cifar10 needs --data-dir (the folder of data_batch_1.bin ... test_batch.bin)");
    d.train = load_cifar10(c.data_dir, true);
    d.test = load_cifar10(c.data_dir, false);
  } else if (c.dataset == "svhn") {
    ML_CHECK(!c.data_dir.empty(), "--dataset svhn needs --data-dir (the folder of train_32x32.mat and test_32x32.mat)");
    d.train = load_svhn(c.data_dir, true);
    d.test = load_svhn(c.data_dir, false);
  } else if (c.dataset == "folder") {
    ML_CHECK(!c.data_dir.empty(), "--dataset folder needs --data-dir holding train.csv and test.csv manifests");
    const int64_t s = c.image_size ? c.image_size : 32;
    d.train = load_image_folder((fs::path(c.data_dir) / "train.csv").string(), 3, s, s);
    d.test = load_image_folder((fs::path(c.data_dir) / "test.csv").string(), 3, s, s);
  } else {
    throw Error("--dataset: unknown dataset '" + c.dataset + "' (fashion-mnist, cifar10, svhn, folder)");
  }
  // The border first, so a mirrored variant flips the padded image (the same image either way:
  // the border is symmetric).
  const Dataset items = d.train;
  d.train = pad_images(d.train, c.pad, c.pad_value);
  d.test = pad_images(d.test, c.pad, c.pad_value);
  // Composites (engine/data/composite.h) replace a share of the training images only: the test
  // set stays the plain items, so the test accuracy reads as without them.
  if (c.composites > 0) d.train = with_composites(items, d.train, c.composites, stream_seed(c.seed, kStreamComposites));
  if (c.variant == "sym" || c.variant == "asym") {
    // One coin stream for the training images, another for the test images (both seeded).
    Generator gtrain(stream_seed(c.seed, kStreamTrainFlips)), gtest(stream_seed(c.seed, kStreamTestFlips));
    d.train = c.variant == "sym" ? make_sym(d.train, gtrain) : make_asym(d.train, gtrain);
    d.test = c.variant == "sym" ? make_sym(d.test, gtest) : make_asym(d.test, gtest);
  } else {
    ML_CHECK(c.variant == "none", "--variant: unknown variant '", c.variant, "' (none, sym, asym)");
  }
  return d;
}

namespace {

// Per-channel mean and std of pixel/255 over a set: the "training set's per-channel
// normalisation" of the recipes (SCIENCE.md), computed, not copied from elsewhere.
void channel_stats(const Dataset& ds, std::vector<float>& mean, std::vector<float>& std) {
  const int64_t N = ds.size(), C = ds.channels(), HW = ds.height() * ds.width();
  const uint8_t* p = ds.pixels.data_u8();
  mean.assign(static_cast<size_t>(C), 0.f);
  std.assign(static_cast<size_t>(C), 1.f);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n) {
      const uint8_t* q = p + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        const double v = q[i] / 255.0;
        s += v;
        ss += v * v;
      }
    }
    const double cnt = static_cast<double>(N * HW), m = s / cnt;
    mean[static_cast<size_t>(c)] = static_cast<float>(m);
    std[static_cast<size_t>(c)] = static_cast<float>(std::sqrt(std::max(ss / cnt - m * m, 1e-12)));
  }
}

struct EpochStats {
  double loss = 0, acc = 0;
};

EpochStats evaluate(models::Model& m, Loader& loader, Device dev) {
  NoGradGuard ng;
  m.net->eval();
  loader.start_epoch(0);
  Tensor x, y;
  double loss = 0;
  int64_t correct = 0, n = 0;
  while (loader.next(x, y)) {
    const Tensor xd = x.to(dev), yd = y.to(dev);
    const Tensor logits = (*m.net)(xd);
    const int64_t b = x.size(0);
    loss += static_cast<double>(cross_entropy(logits, yd).item()) * static_cast<double>(b);
    const auto pred = argmax(logits).to_vector_i32(), truth = y.to_vector_i32();
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
    n += b;
  }
  return {n ? loss / static_cast<double>(n) : 0.0, n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0};
}

std::string format_duration(double s) {
  const int64_t t = static_cast<int64_t>(std::max(0.0, s));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  return buf;
}


void write_log(const fs::path& dir, const json& rows) {
  std::ostringstream os;
  os << "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n";
  os.precision(9);
  for (const auto& r : rows)
    os << r["epoch"].get<int64_t>() << ',' << r["train_loss"].get<double>() << ',' << r["train_acc"].get<double>()
       << ',' << r["val_loss"].get<double>() << ',' << r["val_acc"].get<double>() << ',' << r["lr"].get<double>()
       << ',' << r["seconds"].get<double>() << '\n';
  write_text_atomic((dir / "log.csv").string(), os.str());
}

// Dropout masks come from each Dropout module's own Generator: their offsets are part of
// the state a resumed run needs.
json rng_state(nn::Module& net) {
  json j = json::object();
  for (auto& [name, mod] : net.named_modules())
    if (auto* d = dynamic_cast<nn::Dropout*>(mod)) j[name] = {d->gen.seed(), d->gen.offset()};
  return j;
}

void set_rng_state(nn::Module& net, const json& j) {
  for (auto& [name, mod] : net.named_modules())
    if (auto* d = dynamic_cast<nn::Dropout*>(mod)) {
      ML_CHECK(j.contains(name), "checkpoint: no generator state for dropout '", name, "'");
      d->gen.set_state(j[name][0].get<uint64_t>(), j[name][1].get<uint64_t>());
    }
}

nn::NamedTensors prefixed(const std::string& prefix, const nn::NamedTensors& ts) {
  nn::NamedTensors out;
  for (const auto& [n, t] : ts) out.emplace_back(prefix + n, t);
  return out;
}

nn::NamedTensors with_prefix(const SafetensorsFile& f, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [n, t] : f.items)
    if (n.rfind(prefix, 0) == 0) out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

}  // namespace

TrainResult train(const TrainConfig& c) {
  ML_CHECK(c.epochs >= 1, "--epochs must be >= 1, got ", c.epochs);
  ML_CHECK(c.batch_size >= 1, "--batch-size must be >= 1, got ", c.batch_size);
  ML_CHECK(c.optimizer == "sgd" || c.optimizer == "adam", "--optimizer: unknown optimizer '", c.optimizer,
           "' (sgd, adam)");
  ML_CHECK(c.device == "cpu" || c.device == "cuda", "--device: '", c.device, "' is neither cpu nor cuda");
  const Device dev = c.device == "cuda" ? Device::CUDA : Device::CPU;
  if (dev == Device::CUDA) ML_CHECK(cuda_available(), "--device cuda: ", cuda_unavailable_reason());
  if (c.threads > 0) omp_set_num_threads(c.threads);
  const fs::path dir(c.out);
  fs::create_directories(dir);

  // ---- data ----
  Datasets d = load_datasets(c);
  Generator split_gen(stream_seed(c.seed, kStreamSplit));
  TrainValSplit split = split_train_val(d.train, c.val_fraction, split_gen);
  std::vector<float> mean, stdv;
  channel_stats(split.train, mean, stdv);
  Loader fit(split.train, c.batch_size, /*shuffle=*/true, stream_seed(c.seed, kStreamEpochOrder), mean, stdv);
  Loader val(split.val, c.batch_size, false, 0, mean, stdv);
  Loader test(d.test, c.batch_size, false, 0, mean, stdv);

  // ---- model and optimisation ----
  models::ModelOptions mo;
  mo.in_channels = d.train.channels();
  mo.image_size = d.train.height();
  mo.num_classes = d.train.num_classes;
  mo.seed = c.seed;
  models::Model m = models::make_model(c.model, mo);
  m.net->to(dev);
  std::unique_ptr<optim::Optimizer> opt;
  if (c.optimizer == "sgd")
    opt = std::make_unique<optim::SGD>(m.net->parameters(), c.lr, c.momentum, c.weight_decay);
  else
    opt = std::make_unique<optim::Adam>(m.net->parameters(), c.lr, 0.9f, 0.999f, 1e-8f, c.weight_decay);
  std::unique_ptr<optim::StepLR> sched;
  if (c.lr_step > 0) sched = std::make_unique<optim::StepLR>(*opt, c.lr_step, c.lr_gamma);

  const json config = to_json(c);
  // What an analysis program needs to rebuild the net and feed it images as in training
  // (experiments/analysis/activations.h reads these from the weights file's metadata).
  const json model_json = {{"name", c.model},
                           {"in_channels", mo.in_channels},
                           {"image_size", mo.image_size},
                           {"pad", c.pad},
                           {"pad_value", c.pad_value},
                           {"num_classes", mo.num_classes},
                           {"normalization", {{"mean", mean}, {"std", stdv}}}};
  auto weights_metadata = [&](int64_t epoch) {
    return std::map<std::string, std::string>{
        {"epoch", std::to_string(epoch)}, {"config", config.dump()}, {"model", model_json.dump()}};
  };
  json log = json::array();
  int64_t start_epoch = 0, best_epoch = -1, bad_epochs = 0;
  double best_val = INFINITY;
  const fs::path ckpt = dir / "checkpoint.safetensors";
  if (c.resume) {
    ML_CHECK(fs::exists(ckpt), "--resume: no checkpoint at ", ckpt.string());
    const SafetensorsFile f = load_safetensors(ckpt.string());
    const json saved = json::parse(f.metadata.at("config"));
    for (const char* k : {"model", "dataset", "variant", "seed", "batch_size", "optimizer", "val_fraction"})
      ML_CHECK(saved[k] == config[k], ckpt.string(), ": was written with ", k, " = ", saved[k].dump(),
               ", this run has ", config[k].dump());
    // Checkpoints from before --pad existed were unpadded.
    for (const char* k : {"pad", "pad_value"})
      ML_CHECK(saved.value(k, int64_t{0}) == config[k].get<int64_t>(), ckpt.string(), ": was written with --", k == std::string("pad") ? "pad" : "pad-value",
               " ", saved.value(k, int64_t{0}), ", this run has ", config[k].get<int64_t>());
    ML_CHECK(saved.value("composites", 0.0) == config["composites"].get<double>(), ckpt.string(),
             ": was written with --composites ", saved.value("composites", 0.0), ", this run has ", c.composites);
    m.net->load_state_dict(with_prefix(f, "model."));
    m.net->to(dev);
    opt->load_state(with_prefix(f, "optim."));
    set_rng_state(*m.net, json::parse(f.metadata.at("rng")));
    log = json::parse(f.metadata.at("log"));
    start_epoch = std::stoll(f.metadata.at("epoch"));
    best_epoch = std::stoll(f.metadata.at("best_epoch"));
    bad_epochs = std::stoll(f.metadata.at("bad_epochs"));
    best_val = std::stod(f.metadata.at("best_val_loss"));
    if (sched) sched->set_epoch(start_epoch);
    std::fprintf(stderr, "resuming %s after epoch %lld\n", ckpt.string().c_str(), static_cast<long long>(start_epoch));
  }

  std::fprintf(stderr, "train: %s on %s (%s), %lld fit / %lld val / %lld test images, %lld classes, %s, seed %llu\n",
               m.name.c_str(), c.dataset.c_str(), c.variant.c_str(), static_cast<long long>(split.train.size()),
               static_cast<long long>(split.val.size()), static_cast<long long>(d.test.size()),
               static_cast<long long>(d.train.num_classes), c.device.c_str(), static_cast<unsigned long long>(c.seed));
  const bool tty = isatty(2);
  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();
  int64_t epoch = start_epoch;
  for (; epoch < c.epochs; ++epoch) {
    const auto t0 = clock::now();
    m.net->train();
    fit.start_epoch(epoch);
    int64_t nb = fit.batches_per_epoch();
    if (c.max_batches > 0) nb = std::min(nb, c.max_batches);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, b = 0;
    auto last_print = t0;
    Tensor x, y;
    while (b < nb && fit.next(x, y)) {
      const Tensor xd = x.to(dev), yd = y.to(dev);
      opt->zero_grad();
      const Tensor logits = (*m.net)(xd);
      const Tensor loss = cross_entropy(logits, yd);
      loss.backward();
      opt->step();
      const int64_t bs = x.size(0);
      loss_sum += static_cast<double>(loss.item()) * static_cast<double>(bs);
      const auto pred = argmax(logits.detach()).to_vector_i32(), truth = y.to_vector_i32();
      for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
      seen += bs;
      ++b;
      const auto now = clock::now();
      if (c.progress && (now - last_print > std::chrono::milliseconds(tty ? 500 : 15000) || b == nb)) {
        last_print = now;
        const double el = std::chrono::duration<double>(now - t0).count();
        const double rate = static_cast<double>(seen) / el;
        const double eta_epoch = static_cast<double>(nb - b) * el / static_cast<double>(b);
        const double eta_run = eta_epoch + static_cast<double>(c.epochs - epoch - 1) * el * nb / b;
        std::fprintf(stderr, "%sepoch %lld/%lld  batch %lld/%lld  loss %.4f  acc %.4f  %.0f img/s  ETA %s (run %s)%s",
                     tty ? "\r" : "", static_cast<long long>(epoch + 1), static_cast<long long>(c.epochs),
                     static_cast<long long>(b), static_cast<long long>(nb), loss_sum / static_cast<double>(seen),
                     static_cast<double>(correct) / static_cast<double>(seen), rate,
                     format_duration(eta_epoch).c_str(), format_duration(eta_run).c_str(), tty ? "   " : "\n");
      }
    }
    const EpochStats v = evaluate(m, val, dev);
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    log.push_back({{"epoch", epoch + 1},
                   {"train_loss", loss_sum / static_cast<double>(std::max<int64_t>(seen, 1))},
                   {"train_acc", static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1))},
                   {"val_loss", v.loss},
                   {"val_acc", v.acc},
                   {"lr", opt->lr},
                   {"seconds", secs}});
    if (c.progress)
      std::fprintf(stderr, "%sepoch %lld: val loss %.4f acc %.4f (%.1f s)\n", tty ? "\n" : "",
                   static_cast<long long>(epoch + 1), v.loss, v.acc, secs);
    if (sched) sched->step();
    if (v.loss < best_val) {
      best_val = v.loss;
      best_epoch = epoch + 1;
      bad_epochs = 0;
      save_safetensors((dir / "best.safetensors").string(), m.net->state_dict(), weights_metadata(epoch + 1));
    } else {
      ++bad_epochs;
    }
    write_log(dir, log);
    nn::NamedTensors state = prefixed("model.", m.net->state_dict());
    const nn::NamedTensors os = prefixed("optim.", opt->state());
    state.insert(state.end(), os.begin(), os.end());
    save_safetensors(ckpt.string(), state,
                     {{"epoch", std::to_string(epoch + 1)},
                      {"best_epoch", std::to_string(best_epoch)},
                      {"best_val_loss", json(best_val).dump()},
                      {"bad_epochs", std::to_string(bad_epochs)},
                      {"rng", rng_state(*m.net).dump()},
                      {"log", log.dump()},
                      {"config", config.dump()}});
    if (c.early_stop_patience > 0 && bad_epochs >= c.early_stop_patience) {
      std::fprintf(stderr, "early stop: no better validation loss for %lld epochs\n",
                   static_cast<long long>(bad_epochs));
      ++epoch;
      break;
    }
  }

  // The last epoch's weights: the study's Figure 4 analyses the final epoch, not the best one
  // (farzmahdi2024-more.md, section 7).
  save_safetensors((dir / "final.safetensors").string(), m.net->state_dict(), weights_metadata(epoch));

  // ---- test with the best weights ----
  TrainResult r;
  m.net->load_state_dict(load_safetensors((dir / "best.safetensors").string()).items);
  const EpochStats t = evaluate(m, test, dev);
  r.test_loss = t.loss;
  r.test_acc = t.acc;
  r.best_epoch = best_epoch;
  r.best_val_loss = best_val;
  r.epochs_run = epoch;
  json final_json = {{"test_loss", r.test_loss},
                     {"test_accuracy", r.test_acc},
                     {"best_epoch", r.best_epoch},
                     {"best_val_loss", r.best_val_loss},
                     {"epochs_run", r.epochs_run},
                     {"train_seconds_this_invocation", std::chrono::duration<double>(clock::now() - run_start).count()},
                     {"normalization", {{"mean", mean}, {"std", stdv}}},
                     {"images", {{"fit", split.train.size()}, {"val", split.val.size()}, {"test", d.test.size()}}},
                     {"num_classes", d.train.num_classes},
                     {"parameters", m.net->parameter_count()},
                     {"config", config},
                     {"seed", c.seed},
                     {"source_revision", analysis::source_revision()}};
  write_text_atomic((dir / "final.json").string(), final_json.dump(2) + "\n");
  std::fprintf(stderr, "test accuracy %.4f (loss %.4f) with the weights of epoch %lld -> %s\n", r.test_acc, r.test_loss,
               static_cast<long long>(r.best_epoch), (dir / "final.json").string().c_str());
  analysis::run_plot_script("plot_curves.py", "'" + dir.string() + "'");
  return r;
}

}  // namespace ml::experiments
