#include "experiments/analysis/alignment_study.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "engine/autograd.h"
#include "engine/data/image_folder.h"
#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/ops.h"
#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/run_summary.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "experiments/analysis/msvt.h"

namespace ml::analysis {

namespace fs = std::filesystem;

namespace {

std::string fmt(double v) { return csv_number(v); }

// Columns z-scored with stimulus weights w (a sample's draw counts; population SD over the
// weighted stimuli); columns constant within the weighted stimuli are dropped.
RowMatrixXd weighted_zscore_columns(const RowMatrixXd& x, const std::vector<double>& w, const std::string& what) {
  const Eigen::Map<const Eigen::VectorXd> wv(w.data(), static_cast<Eigen::Index>(w.size()));
  const double total = wv.sum();
  const Eigen::RowVectorXd mean = (wv.transpose() * x) / total;
  const RowMatrixXd c = x.rowwise() - mean;
  const Eigen::RowVectorXd var = (wv.transpose() * c.cwiseProduct(c)) / total;
  std::vector<Eigen::Index> keep;
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    if (var(j) > 1e-24 * (1 + mean(j) * mean(j))) keep.push_back(j);
  ML_CHECK(keep.size() >= 1, what, ": every neuron is constant within a bootstrap sample");
  RowMatrixXd z(x.rows(), static_cast<Eigen::Index>(keep.size()));
  for (size_t k = 0; k < keep.size(); ++k) z.col(static_cast<Eigen::Index>(k)) = c.col(keep[k]) / std::sqrt(var(keep[k]));
  return z;
}

std::string summary_cols(const BootstrapSummary& s) {
  return fmt(s.estimate) + "," + fmt(s.mean) + "," + fmt(s.sd) + "," + fmt(s.lo) + "," + fmt(s.hi);
}

}  // namespace

bool identity_mirror_index(const NeuralStimuli& s, const Eigen::MatrixXd& rdm, double& index, std::string& why) {
  const auto V = static_cast<int64_t>(s.views.size());
  if (V % 2 == 0 || V < 3 || s.views[static_cast<size_t>(V / 2)] != 0.0) {
    why = "the views are not an odd set with 0 in the middle";
    return false;
  }
  std::map<std::string, std::vector<int64_t>> rows;
  for (int64_t i = 0; i < s.size(); ++i) rows[s.identity[static_cast<size_t>(i)]].push_back(i);
  double sum = 0;
  int64_t count = 0;
  for (auto& [id, r] : rows) {
    if (static_cast<int64_t>(r.size()) != V) {
      why = "identity '" + id + "' is not seen at every view";
      return false;
    }
    std::sort(r.begin(), r.end(), [&](int64_t a, int64_t b) { return s.view_deg[static_cast<size_t>(a)] < s.view_deg[static_cast<size_t>(b)]; });
    Tensor d = Tensor::empty({V, V});
    for (int64_t j = 0; j < V; ++j)
      for (int64_t k = 0; k < V; ++k) d.data()[j * V + k] = static_cast<float>(rdm(r[static_cast<size_t>(j)], r[static_cast<size_t>(k)]));
    const double v = msvt_index(d, MsvtDefinition::Released);
    if (!std::isfinite(v)) {
      why = "identity '" + id + "' has a constant views RDM";
      return false;
    }
    sum += v;
    ++count;
  }
  index = sum / static_cast<double>(count);
  return true;
}

AlignmentResult run_alignment(const NeuralData& data, const std::vector<LayerActivations>& layers, const AlignmentOptions& o) {
  const int64_t n = data.stimuli.size();
  ML_CHECK(o.bootstrap >= 1, "alignment: the bootstrap count must be >= 1, got ", o.bootstrap);
  ML_CHECK(o.splits >= 1, "alignment: the noise-ceiling split count must be >= 1, got ", o.splits);
  ML_CHECK(!data.areas.empty() && !layers.empty(), "alignment: no areas or no layers");
  AlignmentResult res;
  res.samples = o.bootstrap;
  // Neural side: RDM, ceiling, index per area.
  std::vector<Eigen::MatrixXd> neural;
  res.neural_rdm_stack.resize(static_cast<int64_t>(data.areas.size()) * n, n);
  for (size_t k = 0; k < data.areas.size(); ++k) {
    const NeuralArea& a = data.areas[k];
    ML_CHECK(a.responses.rows() == n, "alignment: area '", a.name, "' has ", a.responses.rows(), " stimuli, the manifest ", n);
    const RowMatrixXd x = o.zscore_neural ? zscore_columns(a.responses, "area '" + a.name + "'") : a.responses;
    neural.push_back(compute_rdm(x, o.distance));
    res.neural_rdm_stack.middleRows(static_cast<int64_t>(k) * n, n) = neural.back();
    AreaSummary s;
    s.name = a.name;
    s.neurons = a.responses.cols();
    s.repeats = a.repeats;
    s.ceiling = split_half_ceiling(a.responses, o.distance, o.comparison, o.splits, o.seed + 7919 * (k + 1), o.zscore_neural);
    if (!identity_mirror_index(data.stimuli, neural.back(), s.mirror_index, s.index_note)) s.mirror_index = 0;
    res.areas.push_back(s);
  }
  // Model side: per layer the RDMs of I, S, the pair and (rdm_sum only) the layer itself.
  std::vector<Eigen::MatrixXd> model;
  std::vector<std::array<int64_t, 4>> slot;  // per layer: index of I, S, pair, full in `model`
  std::vector<ShapleyRdms> srs;
  for (const LayerActivations& l : layers) {
    ML_CHECK(l.a.rows() == n && l.af.rows() == n && l.a.cols() == l.af.cols(), "alignment: layer '", l.name, "' has ", l.a.rows(),
             " / ", l.af.rows(), " stimuli (images / flips) for ", n, " in the manifest");
    ShapleyRdms sr = shapley_rdms(l.a.data(), l.af.data(), n, l.a.cols(), o.distance, "layer '" + l.name + "'");
    const auto base = static_cast<int64_t>(model.size());
    model.push_back(sr.invariant);
    model.push_back(sr.sensitive);
    if (o.shapley == ShapleySum::Features) {
      model.push_back(sr.full);
      slot.push_back({base, base + 1, base + 2, base + 2});
    } else {
      model.push_back(sr.pair(o.shapley));
      model.push_back(sr.full);
      slot.push_back({base, base + 1, base + 2, base + 3});
    }
    double idx = 0;
    std::string why;
    res.layer_index.push_back(identity_mirror_index(data.stimuli, sr.full, idx, why) ? idx : 0.0);
    res.layers.push_back(l.name);
    srs.push_back(std::move(sr));
  }
  const auto samples = bootstrap_samples(n, o.bootstrap, o.seed);
  std::vector<std::vector<std::vector<double>>> boot;
  if (!o.rezscore_bootstrap) {
    boot = bootstrap_comparisons(model, neural, samples, o.comparison);
  } else {
    // Every RDM rebuilt per sample from units re-z-scored over the drawn stimuli; the sample's
    // cells are then compared exactly as in the indexed path (self-copy cells dropped).
    boot.resize(samples.size());
    for (size_t s = 0; s < samples.size(); ++s) {
      std::vector<double> w(static_cast<size_t>(n), 0.0);
      for (int32_t i : samples[s]) w[static_cast<size_t>(i)] += 1.0;
      std::vector<Eigen::MatrixXd> model_s;
      for (const LayerActivations& l : layers) {
        const ShapleyRdms sr = shapley_rdms(l.a.data(), l.af.data(), n, l.a.cols(), o.distance, "layer '" + l.name + "'", w.data());
        model_s.push_back(sr.invariant);
        model_s.push_back(sr.sensitive);
        model_s.push_back(sr.pair(o.shapley));
        if (o.shapley != ShapleySum::Features) model_s.push_back(sr.full);
      }
      std::vector<Eigen::MatrixXd> neural_s;
      for (size_t k = 0; k < data.areas.size(); ++k)
        neural_s.push_back(o.zscore_neural ? compute_rdm(weighted_zscore_columns(data.areas[k].responses, w, "area '" + data.areas[k].name + "'"),
                                                         o.distance)
                                           : neural[k]);
      boot[s] = std::move(bootstrap_comparisons(model_s, neural_s, {samples[s]}, o.comparison)[0]);
    }
  }
  for (size_t l = 0; l < layers.size(); ++l)
    for (size_t k = 0; k < neural.size(); ++k) {
      const auto [si, ss, sp, sf] = slot[l];
      auto value = [&](int64_t m, size_t s) { return boot[s][static_cast<size_t>(m)][k]; };
      auto coalition = [&](double v_i, double v_s, double v_is) {
        if (srs[l].invariant_null) v_i = 0;
        if (srs[l].sensitive_null) v_s = 0;
        return shapley_values(v_i, v_s, v_is);
      };
      AlignmentRow row;
      row.layer = layers[l].name;
      row.area = data.areas[k].name;
      row.units = srs[l].units;
      const ShapleyValues full = coalition(compare_rdms(model[static_cast<size_t>(si)], neural[k], o.comparison),
                                           compare_rdms(model[static_cast<size_t>(ss)], neural[k], o.comparison),
                                           compare_rdms(model[static_cast<size_t>(sp)], neural[k], o.comparison));
      const double r_full = compare_rdms(model[static_cast<size_t>(sf)], neural[k], o.comparison);
      ML_CHECK(std::isfinite(r_full), "alignment: layer '", row.layer, "' vs area '", row.area, "': a constant RDM (comparison undefined)");
      row.v_i = full.v_i;
      row.v_s = full.v_s;
      row.v_is = full.v_is;
      std::vector<double> r_s, pi_s, ps_s;
      for (size_t s = 0; s < samples.size(); ++s) {
        r_s.push_back(value(sf, s));
        const ShapleyValues b = coalition(value(si, s), value(ss, s), value(sp, s));
        pi_s.push_back(b.phi_i);
        ps_s.push_back(b.phi_s);
      }
      row.r = summarize_bootstrap(r_full, r_s);
      row.phi_i = summarize_bootstrap(full.phi_i, pi_s);
      row.phi_s = summarize_bootstrap(full.phi_s, ps_s);
      res.rows.push_back(row);
    }
  return res;
}

nlohmann::json known_answer_verdicts(const AlignmentResult& r, const nlohmann::json& truth) {
  nlohmann::json out = nlohmann::json::array();
  std::map<std::string, std::array<double, 3>> mix;  // view_tuned, mirror, invariant
  for (const auto& a : truth.at("areas"))
    mix[a.at("name").get<std::string>()] = {a.at("view_tuned").get<double>(), a.at("mirror").get<double>(), a.at("invariant").get<double>()};
  // Per area, the best-aligned layer and its sensitive share phi_S / (|phi_I| + |phi_S|).
  struct Best {
    std::string area, layer;
    double r = -2, phi_i = 0, phi_s = 0, share = 0;
  };
  std::vector<Best> best;
  for (const AreaSummary& a : r.areas) {
    if (!mix.count(a.name)) continue;
    Best b;
    b.area = a.name;
    for (const AlignmentRow& row : r.rows)
      if (row.area == a.name && row.r.estimate > b.r) {
        b.r = row.r.estimate;
        b.layer = row.layer;
        b.phi_i = row.phi_i.estimate;
        b.phi_s = row.phi_s.estimate;
      }
    b.share = b.phi_s / std::max(1e-12, std::abs(b.phi_i) + std::abs(b.phi_s));
    best.push_back(b);
  }
  auto pairs_agree = [&](int kind, auto measure, nlohmann::json& values) {
    bool agree = true;
    int compared = 0;
    for (size_t i = 0; i < best.size(); ++i)
      for (size_t j = 0; j < best.size(); ++j) {
        const double fi = mix[best[i].area][static_cast<size_t>(kind)], fj = mix[best[j].area][static_cast<size_t>(kind)];
        if (fi < fj + 0.2) continue;  // only areas whose fractions differ clearly
        ++compared;
        const bool ok = measure(i) > measure(j);
        values.push_back({{"higher", best[i].area}, {"lower", best[j].area}, {"agrees", ok}});
        agree = agree && ok;
      }
    return std::make_pair(agree, compared);
  };
  {
    nlohmann::json v = nlohmann::json::array();
    const auto [agree, compared] = pairs_agree(0, [&](size_t i) { return best[i].share; }, v);
    nlohmann::json per = nlohmann::json::array();
    for (const Best& b : best)
      per.push_back({{"area", b.area}, {"view_tuned", mix[b.area][0]}, {"best_layer", b.layer}, {"r", b.r}, {"phi_i", b.phi_i},
                     {"phi_s", b.phi_s}, {"sensitive_share", b.share}});
    out.push_back({{"claim", "the reflection-sensitive share of the alignment at each area's best layer is larger for areas with "
                             "more view-tuned neurons (pairs differing by >= 0.2)"},
                   {"agrees", compared > 0 && agree},
                   {"compared_pairs", compared},
                   {"pairs", v},
                   {"areas", per}});
  }
  {
    nlohmann::json v = nlohmann::json::array();
    bool agree = true;
    int compared = 0;
    for (const Best& b : best)
      if (mix[b.area][0] <= 0.3) {
        ++compared;
        const bool ok = b.phi_i > b.phi_s;
        agree = agree && ok;
        v.push_back({{"area", b.area}, {"best_layer", b.layer}, {"phi_i", b.phi_i}, {"phi_s", b.phi_s}, {"agrees", ok}});
      }
    out.push_back({{"claim", "areas with at most 30 % view-tuned neurons (mirror-symmetric and view-invariant) are matched "
                             "mainly through the reflection-invariant part (phi_I > phi_S at the best layer)"},
                   {"agrees", compared > 0 && agree},
                   {"compared_areas", compared},
                   {"areas", v}});
  }
  {
    nlohmann::json v = nlohmann::json::array();
    std::map<std::string, double> index;
    for (const AreaSummary& a : r.areas) index[a.name] = a.mirror_index;
    const auto [agree, compared] = pairs_agree(1, [&](size_t i) { return index[best[i].area]; }, v);
    out.push_back({{"claim", "the areas' own mirror-symmetry index (2-S4) is higher for areas with more mirror-symmetric "
                             "neurons (pairs differing by >= 0.2)"},
                   {"agrees", compared > 0 && agree},
                   {"compared_pairs", compared},
                   {"pairs", v}});
  }
  return out;
}

void write_alignment(const AlignmentResult& r, const NeuralData& data, const std::string& model, const std::string& dir) {
  fs::create_directories(dir);
  std::map<std::string, const AreaSummary*> area;
  for (const AreaSummary& a : r.areas) area[a.name] = &a;
  std::ostringstream csv;
  csv << "model,layer,area,units,r,r_mean,r_sd,r_lo,r_hi,phi_i,phi_i_mean,phi_i_sd,phi_i_lo,phi_i_hi,phi_s,phi_s_mean,phi_s_sd,"
         "phi_s_lo,phi_s_hi,v_i,v_s,v_is,samples,unusable_samples,ceiling_lower,ceiling_sd,layer_mirror_index\n";
  for (const AlignmentRow& row : r.rows) {
    const auto li = std::find(r.layers.begin(), r.layers.end(), row.layer) - r.layers.begin();
    const AreaSummary& a = *area.at(row.area);
    csv << model << "," << row.layer << "," << row.area << "," << row.units << "," << summary_cols(row.r) << "," << summary_cols(row.phi_i)
        << "," << summary_cols(row.phi_s) << "," << fmt(row.v_i) << "," << fmt(row.v_s) << "," << fmt(row.v_is) << "," << row.r.samples
        << "," << row.r.unusable << "," << fmt(a.ceiling.lower) << "," << fmt(a.ceiling.sd) << ","
        << fmt(r.layer_index[static_cast<size_t>(li)]) << "\n";
  }
  write_text_atomic((fs::path(dir) / "alignment.csv").string(), csv.str());
  std::ostringstream ac;
  ac << "area,neurons,repeats,ceiling_lower,ceiling_sd,ceiling_raw_r,ceiling_upper,splits,mirror_index,index_note\n";
  for (const AreaSummary& a : r.areas)
    ac << a.name << "," << a.neurons << "," << a.repeats << "," << fmt(a.ceiling.lower) << "," << fmt(a.ceiling.sd) << ","
       << fmt(a.ceiling.raw_r) << "," << fmt(a.ceiling.upper) << "," << a.ceiling.splits << ","
       << (a.index_note.empty() ? fmt(a.mirror_index) : std::string("")) << "," << a.index_note << "\n";
  write_text_atomic((fs::path(dir) / "areas.csv").string(), ac.str());
  const int64_t n = data.stimuli.size();
  Tensor stack = Tensor::empty({static_cast<int64_t>(r.areas.size()), n, n});
  for (int64_t i = 0; i < stack.numel(); ++i) stack.data()[i] = static_cast<float>(r.neural_rdm_stack(i / n, i % n));
  save_npy((fs::path(dir) / "neural_rdms.npy").string(), stack);
}

std::vector<LayerActivations> model_activations(AnalysisNet& net, const std::vector<std::string>& files,
                                                const std::vector<std::string>& layers, int64_t batch) {
  ML_CHECK(batch >= 1, "alignment: --batch must be >= 1, got ", batch);
  NoGradGuard ng;
  const auto n = static_cast<int64_t>(files.size());
  const int64_t C = net.model.in_channels, S = net.model.image_size;
  std::vector<LayerActivations> out(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) out[l].name = layers[l];
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t b1 = std::min(n, b0 + batch);
    const std::vector<std::string> paths(files.begin() + b0, files.begin() + b1);
    const Tensor images = load_images(paths, C, S, S);  // (B, C, S, S) in [0, 1]
    const std::vector<Tensor> a = layer_outputs(net, images, layers), af = layer_outputs(net, hflip(images), layers);
    for (size_t l = 0; l < layers.size(); ++l) {
      const int64_t U = a[l].numel() / (b1 - b0);
      if (b0 == 0) {
        out[l].a.resize(n, U);
        out[l].af.resize(n, U);
      }
      std::copy_n(a[l].data(), a[l].numel(), out[l].a.data() + b0 * U);
      std::copy_n(af[l].data(), af[l].numel(), out[l].af.data() + b0 * U);
    }
  }
  return out;
}

void apply_alignment_preset(AlignmentProgram& p) {
  int64_t boot = 0, splits = 0;
  if (p.preset == "ci") {
    boot = 100;
    splits = 10;
  } else if (p.preset == "cpu" || p.preset == "full") {
    boot = 1000;  // the paper's count (§4)
    splits = 100;
  } else {
    throw Error("--preset must be ci | cpu | full, got '" + p.preset + "'");
  }
  if (!p.bootstrap_set) p.options.bootstrap = boot;
  if (!p.splits_set) p.options.splits = splits;
}

nlohmann::json run_alignment_program(AlignmentProgram p) {
  const auto t0 = std::chrono::steady_clock::now();
  apply_alignment_preset(p);
  ML_CHECK(p.options.bootstrap >= 1, "--bootstrap must be >= 1, got ", p.options.bootstrap);
  ML_CHECK(p.options.splits >= 1, "--splits must be >= 1, got ", p.options.splits);
  const NeuralData data = read_neural_data(p.neural, p.areas, /*check_images=*/true);
  AnalysisNet net = load_analysis_net(p.net);
  const std::vector<std::string> layers = resolve_layers(net.model, p.layers);
  if (p.label.empty()) p.label = p.net.untrained ? net.model.name + "_untrained" : net.model.name;
  if (p.progress)
    std::fprintf(stderr, "neural_alignment: %s; %lld stimuli, %zu areas, %zu layers, %lld bootstrap samples\n", net.description.c_str(),
                 static_cast<long long>(data.stimuli.size()), data.areas.size(), layers.size(), static_cast<long long>(p.options.bootstrap));
  const auto t_act = std::chrono::steady_clock::now();
  const std::vector<LayerActivations> acts = model_activations(net, data.stimuli.files, layers, p.batch);
  const auto t_rsa = std::chrono::steady_clock::now();
  const AlignmentResult r = run_alignment(data, acts, p.options);
  const auto t_end = std::chrono::steady_clock::now();
  write_alignment(r, data, p.label, p.out);
  nlohmann::json summary = {
      {"model", p.label},
      {"network", net.description},
      {"neural", p.neural},
      {"areas", nlohmann::json::array()},
      {"layers", layers},
      {"stimuli", data.stimuli.size()},
      {"preset", p.preset},
      {"bootstrap", p.options.bootstrap},
      {"splits", p.options.splits},
      {"seed", p.options.seed},
      {"distance", name_of(p.options.distance)},
      {"comparison", name_of(p.options.comparison)},
      {"shapley_sum", name_of(p.options.shapley)},
      {"zscore_neural", p.options.zscore_neural},
      {"rezscore_bootstrap", p.options.rezscore_bootstrap},
      {"seconds_activations", std::chrono::duration<double>(t_rsa - t_act).count()},
      {"seconds_rsa", std::chrono::duration<double>(t_end - t_rsa).count()},
      {"definitions",
       {{"rdm", "1 - Pearson r between stimulus patterns; model units z-scored over the stimuli (constant units dropped)"},
        {"bootstrap", "stimuli resampled with replacement, both RDMs rebuilt, cells pairing an image with its own copy dropped; "
                      "SD (n - 1) and 2.5/97.5 % percentiles"},
        {"noise_ceiling", "split-half over neurons, Spearman-Brown 2r / (1 + r), mean over splits; upper bound 1"},
        {"shapley", "I = a(x) + a(Fx), S = a(x) - a(Fx); phi_I = (v(I) + v(I,S) - v(S)) / 2, phi_S = (v(S) + v(I,S) - v(I)) / 2"}}}};
  for (const AreaSummary& a : r.areas)
    summary["areas"].push_back({{"name", a.name}, {"neurons", a.neurons}, {"repeats", a.repeats}, {"ceiling_lower", a.ceiling.lower},
                                {"ceiling_sd", a.ceiling.sd}, {"mirror_index", a.mirror_index}, {"index_note", a.index_note}});
  const fs::path truth_path = fs::path(p.neural) / "truth.json";
  if (fs::is_regular_file(truth_path)) {
    const auto bytes = read_file(truth_path.string());
    const auto truth = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    ML_CHECK(!truth.is_discarded() && truth.contains("areas"), "neural_alignment: '", truth_path.string(), "' is not simulate_population's truth.json");
    summary["truth"] = truth;
    summary["verdicts"] = known_answer_verdicts(r, truth);
  }
  write_run_summary((fs::path(p.out) / "alignment.json").string(), summary, t0);
  if (p.plot) run_plot_script("plot_alignment.py", "'" + p.out + "'");
  return summary;
}

}  // namespace ml::analysis
