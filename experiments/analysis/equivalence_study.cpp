#include "experiments/analysis/equivalence_study.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/io/atomic_file.h"
#include "engine/ops.h"
#include "experiments/analysis/equivariance_maps.h"
#include "experiments/analysis/net_split.h"
#include "experiments/analysis/spatial_transform.h"
#include "experiments/analysis/stitching.h"

namespace ml::analysis {

namespace {

// φ of images (rows [i0, i1)), transformed by g after normalisation, in batches.
Tensor features(AnalysisNet& net, const NetSplit& split, const Tensor& images, int64_t i0, int64_t i1,
                const Transform& g, int64_t batch) {
  std::vector<Tensor> out;
  for (int64_t a = i0; a < i1; a += batch) {
    const int64_t b = std::min(i1, a + batch);
    out.push_back(split.phi(transform_images(normalise(net, images.slice(a, b)), g)).to(Device::CPU));
  }
  return cat(out, 0);
}

bool is_fc(const Tensor& phi) { return phi.dim() == 2; }

std::vector<std::string> default_taps(const AnalysisNet& net) {
  if (net.model.name == "vgg_small")
    return {"conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2", "fc1", "fc2"};
  if (net.model.name == "vgg_small_paper") return {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "pool2", "fc1", "fc2"};
  // torchvision's names: conv1, conv3, conv5 (pre-ReLU) and pool5 (post-ReLU).
  if (net.model.name == "alexnet") return {"features.0", "features.6", "features.10", "features.12"};
  // conv5_3 and pool5: the shallower VGG16 layers (224² sites) are a GPU's work.
  if (net.model.name == "vgg16") return {"features.28", "features.30"};
  throw Error(detail::cat("equivalence: give --taps for model ", net.model.name));
}

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

}  // namespace

double map_learning_rate(const EquivalenceOptions& o) {
  if (o.map_lr > 0) return o.map_lr;
  return o.map_optimizer == FrozenOptimizer::Adam ? 1e-3 : o.lr;
}

double stitch_learning_rate(const EquivalenceOptions& o) { return o.stitch_lr > 0 ? o.stitch_lr : map_learning_rate(o); }

EquivalenceResult run_equivalence(const std::vector<EquivalenceNet>& nets, const Tensor& images, const Tensor& labels,
                                  const EquivalenceOptions& o) {
  ML_CHECK(!nets.empty(), "equivalence: no networks");
  for (size_t a = 0; a < nets.size(); ++a)
    for (size_t b = a + 1; b < nets.size(); ++b)
      ML_CHECK(nets[a].label != nets[b].label, "equivalence: two networks are labelled '", nets[a].label, "'");
  // Replicate 0 of each variant runs the maps (every replicate with replicate_maps).
  auto runs_maps = [&](const EquivalenceNet& en) { return o.replicate_maps || en.replicate == 0; };
  const double map_lr = map_learning_rate(o);
  ML_CHECK(images.dim() == 4 && labels.dim() == 1 && images.size(0) == labels.size(0), "equivalence: images ",
           images.str(), " and labels ", labels.str(), " do not match");
  const int64_t N = images.size(0);
  const int64_t n_fit = std::min(o.fit_images, N), n_test = std::min(o.test_images, N - n_fit);
  ML_CHECK(n_fit >= 10 && n_test >= 10, "equivalence: need at least 10 fitting and 10 test images, have ", n_fit, " and ",
           n_test, " of ", N);
  // The last fifth of the fitting images choose the ridge penalty.
  const int64_t n_train = n_fit - n_fit / 5;
  const Tensor test_x = images.slice(n_fit, n_fit + n_test), test_y = labels.slice(n_fit, n_fit + n_test);
  const Tensor fit_x = images.slice(0, n_fit), fit_y = labels.slice(0, n_fit);
  EquivalenceResult res;
  const Transform identity;
  const auto t_start = std::chrono::steady_clock::now();
  const std::clock_t c_start = std::clock();
  // Wall and process CPU seconds (all threads) in the progress lines: on a shared machine the
  // CPU time is the cost, the wall time the load.
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
  auto cpu = [&] { return static_cast<double>(std::clock() - c_start) / CLOCKS_PER_SEC; };
  // Process CPU seconds per stage (what to make faster; reported in the progress and the result).
  double mark = cpu();
  auto stage = [&](const char* name) {
    const double now = cpu();
    res.stage_cpu_seconds[name] += now - mark;
    mark = now;
  };
  // Progress with an ETA: units of work (a net's tap and transform; one stitch seed) counted up
  // front, the remaining ones projected from the mean wall and CPU seconds of those done so far
  // within their kind (a map unit and a stitch differ ~5x in cost).
  int64_t map_units = 0, map_done = 0, stitch_units = 0, stitch_done = 0;
  for (const EquivalenceNet& en : nets) {
    if (!runs_maps(en)) continue;
    const auto taps = o.taps.empty() ? default_taps(*en.net) : o.taps;
    int64_t ng = static_cast<int64_t>(o.transforms.size());
    if (&en == &nets.front())
      for (const auto& t : o.sweep)
        ng += std::find(o.transforms.begin(), o.transforms.end(), t) == o.transforms.end();
    map_units += static_cast<int64_t>(taps.size()) * ng;
  }
  double map_wall0 = elapsed(), map_cpu0 = cpu(), stitch_wall0 = 0, stitch_cpu0 = 0;
  auto eta = [&](int64_t done, int64_t units, double wall0, double cpu0) {
    if (done == 0) return std::string("ETA after the first unit");
    const double left = static_cast<double>(units - done) / static_cast<double>(done);
    char buf[96];
    std::snprintf(buf, sizeof buf, "ETA %.0f s wall, %.0f cpu-s", (elapsed() - wall0) * left, (cpu() - cpu0) * left);
    return std::string(buf);
  };
  for (const EquivalenceNet& en : nets) {
    if (!runs_maps(en)) continue;
    AnalysisNet& net = *en.net;
    const auto taps = o.taps.empty() ? default_taps(net) : o.taps;
    std::vector<std::string> transforms = o.transforms;
    if (&en == &nets.front())
      for (const auto& t : o.sweep)
        if (std::find(transforms.begin(), transforms.end(), t) == transforms.end()) transforms.push_back(t);
    for (const std::string& tap : taps) {
      NetSplit split(net, tap);
      const Tensor phi_x = features(net, split, fit_x, 0, n_fit, identity, o.batch);
      // Kept on the network's device: ψ runs there.
      const Tensor phi_test_id = features(net, split, test_x, 0, n_test, identity, o.batch).to(net.device);
      for (const std::string& gname : transforms) {
        const Transform g = parse_transform(gname);
        // A sweep-only angle: baselines, ridge and the task map (Fig. 11), nothing else.
        const bool sweep_only = std::find(o.transforms.begin(), o.transforms.end(), gname) == o.transforms.end();
        if (o.progress)
          std::fprintf(stderr, "equivalence: %s %s %s%s, map unit %lld/%lld (%.0f s, cpu %.0f s; maps %s)\n",
                       en.label.c_str(), tap.c_str(), gname.c_str(), sweep_only ? " (sweep)" : "",
                       static_cast<long long>(map_done + 1), static_cast<long long>(map_units), elapsed(), cpu(),
                       eta(map_done, map_units, map_wall0, map_cpu0).c_str());
        ++map_done;
        stage("other");
        const Tensor phi_gx = features(net, split, fit_x, 0, n_fit, g, o.batch);
        const bool fc = is_fc(phi_x);
        const int64_t m = fc ? 1 : o.m, C = phi_x.size(1);
        Tensor pg;
        if (!fc) pg = pg_matrix(site_geometry(*net.model.net, tap, net.model.image_size), g, net.model.image_size, false, tap);
        // φ(g⁻¹x) of the test images, once for every map evaluated on this tap and transform.
        const Tensor phi_test = features(net, split, test_x, 0, n_test, g.inverse_transform(), o.batch).to(net.device);
        stage("features");
        auto add = [&](const std::string& method, const ConvMap* map, bool pg_only, double l2, double param) {
          const auto e = task_errors_from_phi(split, phi_test, test_y, map, pg_only, {1, 2});
          res.maps.push_back({en.label, tap, gname, method, e[0], e[1], l2, param});
        };
        // Baselines: the network on untransformed images, uncompensated, P_g only.
        const auto orig = task_errors_from_phi(split, phi_test_id, test_y, nullptr, false, {1, 2});
        res.maps.push_back({en.label, tap, gname, "original", orig[0], orig[1], nan(), nan()});
        add("none", nullptr, false, nan(), nan());
        ConvMap pg_map;
        pg_map.pg = pg;
        if (!fc) add("pg", &pg_map, true, nan(), nan());
        stage("baselines");
        // Regression: Gram of the training part, penalty chosen on the validation part.
        GramSystem sys = map_gram(phi_x.slice(0, n_train), phi_gx.slice(0, n_train), pg, m);
        const Tensor val_x = phi_x.slice(n_train, n_fit), val_gx = phi_gx.slice(n_train, n_fit);
        stage("gram");
        double best_l2 = std::numeric_limits<double>::infinity(), best_lambda = nan();
        ConvMap ridge;
        for (double lambda : o.lambdas) {
          ConvMap cand;
          try {
            cand = conv_map_from_solution(ridge_solve(sys, lambda), C, m, pg);
          } catch (const Error&) {
            continue;  // a singular system at this penalty: the grid's larger ones remain
          }
          const double l2 = l2_ratio(cand, val_x, val_gx);
          if (l2 < best_l2) best_l2 = l2, best_lambda = lambda, ridge = cand;
        }
        ML_CHECK(ridge.weight.defined(), "equivalence: no ridge penalty gave a solution for ", en.label, " ", tap, " ",
                 gname);
        stage("ridge");
        add("ridge", &ridge, false, best_l2, best_lambda);
        for (int64_t k : o.fs_k) {
          if (k > sys.inputs() || sweep_only) continue;
          const ConvMap fs = conv_map_from_solution(forward_selection(sys, k), C, m, pg);
          add("fs_k" + std::to_string(k), &fs, false, l2_ratio(fs, val_x, val_gx), static_cast<double>(k));
        }
        stage("forward_selection");
        // The Siamese ℓ2 maps: M φ(g⁻¹x) onto φ(x), before and after ReLU (Xavier start). For
        // flips and the half turn g⁻¹ = g, so φ(g⁻¹x) is φ(gx) already.
        const bool involution = g.kind == Transform::Kind::HFlip || g.kind == Transform::Kind::VFlip ||
                                g.kind == Transform::Kind::Rot180;
        Tensor phi_ginv_x;  // φ(g⁻¹x) of the fitting images: the Siamese maps' and the task map's input
        if ((o.siamese && !sweep_only) || o.task_maps)
          phi_ginv_x = involution ? phi_gx : features(net, split, fit_x, 0, n_fit, g.inverse_transform(), o.batch);
        stage("features");
        if (o.siamese && !sweep_only) {
          for (bool relu : {false, true}) {
            ConvMap init;
            init.m = m;
            init.pg = pg;
            SiameseOptions so;
            so.relu = relu;
            so.lr = o.lr;
            so.epochs = o.siamese_epochs;
            so.batch = o.batch;
            so.seed = o.seed;
            so.progress = o.progress;
            const ConvMap sm = train_siamese_map(phi_ginv_x.slice(0, n_train), phi_x.slice(0, n_train), init, so);
            add(relu ? "relu_l2" : "conv_l2", &sm, false, l2_ratio(sm, val_x, val_gx), nan());
          }
        }
        stage("siamese");
        // The transformation layer trained with the task loss (Eq. 7), Xavier start.
        ConvMap for_invariance = ridge;
        if (o.task_maps) {
          ConvMap init;
          init.m = m;
          init.pg = pg;
          TaskTrainOptions to;
          to.epochs = o.task_epochs;
          to.batch = o.batch;
          to.optimizer = o.map_optimizer;
          to.lr = map_lr;
          to.seed = o.seed;
          to.progress = o.progress;
          to.patience = o.patience;
          to.init_scale = o.map_init_scale;
          const ConvMap task = train_transformation_layer_from_phi(net, split, phi_ginv_x, fit_y, init, to);
          add("task", &task, false, l2_ratio(task, val_x, val_gx), nan());
          for_invariance = task;
        }
        stage("task_map");
        if (o.invariant && !sweep_only)
          res.invariant.push_back({en.label, tap, gname, C,
                                   invariant_channels_from_phi(split, phi_test, test_y, for_invariance)});
        stage("invariant_channels");
      }
    }
  }
  if (o.stitching) {
    auto stitch_taps = o.stitch_taps;
    if (stitch_taps.empty())
      for (const auto& t : o.taps.empty() ? default_taps(*nets[0].net) : o.taps)
        if (t.rfind("fc", 0) != 0) stitch_taps.push_back(t);
    auto base = [&](AnalysisNet& net) {
      NetSplit s(net, stitch_taps.front());
      return task_error(net, s, Transform{}, test_x, test_y, nullptr, false, 1);
    };
    std::vector<double> baseline;
    for (const auto& en : nets) baseline.push_back(base(*en.net));
    ML_CHECK(o.stitch_seeds >= 1, "equivalence: stitch_seeds must be >= 1, got ", o.stitch_seeds);
    // φ_A of the fitting and test images, computed once per (network, layer) and reused by every
    // target layer and seed (the loops below keep the source outermost).
    struct Cached {
      size_t net = 0;
      std::string tap;
      Tensor fit, test;
    } cache;
    bool cached = false;
    auto source = [&](size_t a, const std::string& ta) -> const Cached& {
      if (!cached || cache.net != a || cache.tap != ta) {
        NetSplit sa(*nets[a].net, ta);
        cache = {a, ta, stitch_features(*nets[a].net, sa, fit_x), stitch_features(*nets[a].net, sa, test_x)};
        cached = true;
      }
      return cache;
    };
    auto run = [&](size_t a, const std::string& ta, size_t b, const std::string& tb, const char* pair) {
      stage("other");
      const Cached& src = source(a, ta);
      stage("stitch_features");
      NetSplit sb(*nets[b].net, tb);
      // B's layer shape and per-channel statistics (the stitch's standardised coordinates).
      const Tensor probe = fit_x.slice(0, std::min<int64_t>(n_fit, 256));
      for (int64_t k = 0; k < o.stitch_seeds; ++k) {
        StitchOptions so;
        so.epochs = o.stitch_epochs > 0 ? o.stitch_epochs : o.task_epochs;
        so.batch = o.batch;
        so.optimizer = o.map_optimizer;
        so.lr = stitch_learning_rate(o);
        so.seed = o.seed + static_cast<uint64_t>(k);
        so.progress = o.progress;
        so.patience = o.patience;
        if (o.progress)
          std::fprintf(stderr, "equivalence: stitch %s %s -> %s %s seed %llu, stitch %lld/%lld (%.0f s, cpu %.0f s; stitches %s)\n",
                       nets[a].label.c_str(), ta.c_str(), nets[b].label.c_str(), tb.c_str(),
                       static_cast<unsigned long long>(so.seed), static_cast<long long>(stitch_done + 1),
                       static_cast<long long>(stitch_units), elapsed(), cpu(),
                       eta(stitch_done, stitch_units, stitch_wall0, stitch_cpu0).c_str());
        ++stitch_done;
        const Stitch st = train_stitch_from_phi(src.fit, ta, *nets[b].net, sb, probe, fit_y, so);
        res.stitching.push_back({nets[a].label, ta, nets[b].label, tb, pair, so.seed,
                                 stitch_error_from_phi(src.test, sb, st, test_y, 1), baseline[a], baseline[b],
                                 st.epochs_run, st.best_epoch});
        stage("stitch_training");
      }
    };
    // Between networks, layer to the same layer: "variant" pairs join the main networks (replicate
    // 0) of two variants (sym ↔ asym, Tab. 5), "seed" pairs two replicates of one variant (nets
    // trained from different seeds, §9 C: seed → seed); replicates of different variants are not
    // paired (the same question as the main networks', at the cost of every pair).
    auto pair_kind = [&](size_t a, size_t b) -> const char* {
      if (a == b) return nullptr;
      const bool same = nets[a].variant_name() == nets[b].variant_name();
      if (same) return "seed";
      return nets[a].replicate == 0 && nets[b].replicate == 0 ? "variant" : nullptr;
    };
    for (const auto& ta : stitch_taps)
      for (const auto& tb : stitch_taps) stitch_units += (o.stitch_all_pairs || ta == tb) ? o.stitch_seeds : 0;
    for (size_t a = 0; a < nets.size(); ++a)
      for (size_t b = 0; b < nets.size(); ++b)
        if (pair_kind(a, b) != nullptr) stitch_units += static_cast<int64_t>(stitch_taps.size()) * o.stitch_seeds;
    stitch_wall0 = elapsed(), stitch_cpu0 = cpu();
    // All layer pairs within the first network (deeper into shallower is the lower triangle).
    for (const auto& ta : stitch_taps)
      for (const auto& tb : stitch_taps)
        if (o.stitch_all_pairs || ta == tb) run(0, ta, 0, tb, "within");
    for (size_t a = 0; a < nets.size(); ++a)
      for (const auto& t : stitch_taps)
        for (size_t b = 0; b < nets.size(); ++b)
          if (const char* kind = pair_kind(a, b)) run(a, t, b, t, kind);
  }
  stage("other");
  if (o.progress) {
    std::fprintf(stderr, "equivalence: cpu seconds by stage:");
    for (const auto& [name, sec] : res.stage_cpu_seconds) std::fprintf(stderr, " %s %.1f", name.c_str(), sec);
    std::fprintf(stderr, "\n");
  }
  return res;
}

namespace {

std::string f(double v) { return csv_number(v); }

}  // namespace

void write_equivalence(const EquivalenceResult& r, const std::string& dir) {
  std::ostringstream maps, inv, st;
  maps << "net,tap,transform,method,top1,top2,l2_ratio,param\n";
  for (const auto& m : r.maps)
    maps << m.net << "," << m.tap << "," << m.transform << "," << m.method << "," << f(m.top1) << "," << f(m.top2) << ","
         << f(m.l2) << "," << f(m.param) << "\n";
  inv << "net,tap,transform,channels,invariant,share\n";
  for (const auto& i : r.invariant)
    inv << i.net << "," << i.tap << "," << i.transform << "," << i.channels << "," << i.invariant << ","
        << f(static_cast<double>(i.invariant) / static_cast<double>(i.channels)) << "\n";
  st << "from_net,from_tap,to_net,to_tap,pair,seed,top1,baseline_from,baseline_to,epochs_run,best_epoch\n";
  for (const auto& s : r.stitching)
    st << s.from_net << "," << s.from_tap << "," << s.to_net << "," << s.to_tap << "," << s.pair << "," << s.seed << ","
       << f(s.top1) << "," << f(s.baseline_from) << "," << f(s.baseline_to) << "," << s.epochs_run << ","
       << s.best_epoch << "\n";
  write_text_atomic(dir + "/maps.csv", maps.str());
  write_text_atomic(dir + "/invariant_channels.csv", inv.str());
  write_text_atomic(dir + "/stitching.csv", st.str());
}

}  // namespace ml::analysis
