// mirror_units — Figs. 5—S2...S4: face-selective and mirror-symmetric units of a network and
// their shares per layer (experiments/analysis/unit_selectivity.h; after Baek et al. 2021).
// Face units from every image of --stimuli (class = category; --category names the faces);
// mirror units from the face category's exemplars (identities) at --views. The net's shares
// carry binomial 95 % intervals; with --untrained-nets R (>= 2), R untrained nets of the same
// architecture (seeds seed+1 ... seed+R) give mean shares with Student-t intervals, and the
// report's 5—S4 verdict compares them with the net's (trained > 2x untrained at --verdict-layer).
// The t bounds are not clipped, as in the released notebook (a lower bound may be negative);
// --clip-intervals clips them to [0, 1] (interval column "student_t_clipped").
// Writes unit_shares.csv, units.json (the net's selected unit indices per layer),
// mirror_units.json (summary + verdict) and unit_shares.png (tools/plot_mirror_units.py).
//   mirror_units --weights out/train/sym/final.safetensors --stimuli stim/manifest.csv --untrained-nets 10 --out out/units
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/io/csv.h"
#include "engine/ops.h"
#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/run_summary.h"
#include "experiments/analysis/stimulus_set.h"
#include "experiments/analysis/unit_selectivity.h"
#include "experiments/net_options.h"

namespace fs = std::filesystem;
using namespace ml;

namespace {

constexpr const char* kCriteria[] = {"face", "mirror", "mirror_strict", "mirror_any", "mirror_any_strict"};
constexpr int kNumCriteria = 5;

struct LayerCounts {
  int64_t units = 0;
  int64_t count[kNumCriteria] = {};
  std::vector<int64_t> face, mirror, strict;  // unit indices (the analysed net only)
};

// Per layer: the five counts for one net.
std::vector<LayerCounts> analyse(analysis::AnalysisNet& net, const std::vector<std::string>& layers, const analysis::StimulusSet& set,
                                 const std::vector<int64_t>& labels, int64_t face_label, const std::vector<int64_t>& mirror_rows,
                                 int64_t identities, int64_t views, int64_t batch, const analysis::MirrorCriteria& mc) {
  NoGradGuard ng;
  const int64_t C = net.model.in_channels, S = net.model.image_size;
  auto outputs = [&](const std::vector<int64_t>& rows) {
    std::vector<std::vector<Tensor>> parts(layers.size());
    for (size_t a = 0; a < rows.size(); a += static_cast<size_t>(batch)) {
      const std::vector<int64_t> chunk(rows.begin() + static_cast<std::ptrdiff_t>(a),
                                       rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), a + static_cast<size_t>(batch))));
      const auto outs = analysis::layer_outputs(net, analysis::load_stimuli(set, chunk, C, S), layers);
      for (size_t l = 0; l < layers.size(); ++l) parts[l].push_back(outs[l].reshape({outs[l].size(0), -1}));
    }
    std::vector<Tensor> joined;
    for (auto& p : parts) joined.push_back(cat(p, 0));
    return joined;
  };
  std::vector<int64_t> all(static_cast<size_t>(set.size()));
  for (int64_t i = 0; i < set.size(); ++i) all[static_cast<size_t>(i)] = i;
  const auto acts_all = outputs(all);
  const auto acts_views = outputs(mirror_rows);
  std::vector<LayerCounts> out;
  for (size_t l = 0; l < layers.size(); ++l) {
    LayerCounts c;
    c.units = acts_all[l].size(1);
    const std::vector<bool> face = analysis::face_units(acts_all[l], labels, face_label);
    const analysis::MirrorUnits m = analysis::mirror_units(acts_views[l], identities, views, mc);
    for (int64_t u = 0; u < c.units; ++u) {
      const auto k = static_cast<size_t>(u);
      const bool sel[kNumCriteria] = {face[k], face[k] && m.mirror[k], face[k] && m.strict[k], m.mirror[k], m.strict[k]};
      for (int i = 0; i < kNumCriteria; ++i) c.count[i] += sel[i];
      if (face[k]) c.face.push_back(u);
      if (sel[1]) c.mirror.push_back(u);
      if (sel[2]) c.strict.push_back(u);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Face-selective and mirror-symmetric units and their shares per layer (Figs. 5-S2...S4)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  std::string stimuli, out, label, category = "face", verdict_layer;
  std::vector<double> views_deg = {-90, -45, 0, 45, 90};
  int64_t untrained_nets = 0;
  analysis::MirrorCriteria mc;
  bool no_plot = false, quiet = false, clip_intervals = false;
  app.add_option("--stimuli", stimuli, "stimulus manifest (file, category, exemplar, view_deg): classes = categories")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--label", label, "the model column (default: the model's name)");
  app.add_option("--category", category, "the face category")->capture_default_str();
  app.add_option("--views", views_deg, "the views of the mirror analysis (each in the set)")->delimiter(',')->capture_default_str();
  app.add_option("--untrained-nets", untrained_nets, "also R >= 2 untrained nets of the same architecture (Student-t intervals)");
  app.add_option("--verdict-layer", verdict_layer, "the layer of the trained-vs-untrained verdict (default: the first fc* layer, else the last)");
  app.add_option("--alpha-views", mc.alpha_views, "mirror units: ANOVA threshold")->capture_default_str();
  app.add_option("--min-reflection-r", mc.min_reflection_r, "strict mirror units: tuning vs its reversal")->capture_default_str();
  app.add_flag("--clip-intervals", clip_intervals,
               "clip the untrained nets' Student-t bounds to [0, 1] (our option; the released notebook does not clip)");
  app.add_flag("--no-plot", no_plot, "write the numbers only");
  app.add_flag("--quiet", quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    experiments::apply_threads(net_o);
    ML_CHECK(untrained_nets == 0 || untrained_nets >= 2, "--untrained-nets must be 0 or >= 2 (a t interval needs 2 nets), got ",
             untrained_nets);
    const analysis::StimulusSet set = analysis::read_stimulus_set(stimuli);
    // Classes: the categories in order; the face class must be one of them.
    std::vector<int64_t> labels;
    int64_t face_label = -1;
    for (size_t c = 0; c < set.categories.size(); ++c)
      if (set.categories[c].name == category) face_label = static_cast<int64_t>(c);
    ML_CHECK(face_label >= 0, "--category: '", category, "' is not a category of '", stimuli, "'");
    for (const auto& cat_name : set.category)
      for (size_t c = 0; c < set.categories.size(); ++c)
        if (set.categories[c].name == cat_name) labels.push_back(static_cast<int64_t>(c));
    // Mirror rows: each face exemplar at the chosen views, identity-major.
    std::sort(views_deg.begin(), views_deg.end());
    for (double v : views_deg) {
      ML_CHECK(std::any_of(set.views_deg.begin(), set.views_deg.end(), [&](double w) { return std::abs(w - v) < 1e-6; }), "--views: ",
               v, " is not a view of '", stimuli, "'");
      ML_CHECK(std::any_of(views_deg.begin(), views_deg.end(), [&](double w) { return std::abs(w + v) < 1e-6; }), "--views: ", v,
               " has no mirror partner ", -v);
    }
    std::vector<int64_t> mirror_rows;
    int64_t identities = 0;
    for (const auto& o : set.objects) {
      if (o.category != category) continue;
      ++identities;
      for (double v : views_deg)
        for (int64_t r : o.views)
          if (std::abs(set.view_deg[static_cast<size_t>(r)] - v) < 1e-6) mirror_rows.push_back(r);
    }
    const auto views = static_cast<int64_t>(views_deg.size());

    analysis::AnalysisNet net = experiments::load_net(net_o);
    const std::vector<std::string> layers = analysis::resolve_layers(net.model, net_o.layers);
    if (label.empty()) label = net.model.name;
    // Default: the first fully connected layer (AlexNet's fc6, the layer of the 5-S4 sentence).
    if (verdict_layer.empty())
      for (const auto& l : layers)
        if (verdict_layer.empty() && l.rfind("fc", 0) == 0) verdict_layer = l;
    if (verdict_layer.empty()) verdict_layer = layers.back();
    ML_CHECK(std::find(layers.begin(), layers.end(), verdict_layer) != layers.end(), "--verdict-layer: '", verdict_layer,
             "' is not an analysed layer");
    const int64_t batch = net_o.batch > 0 ? net_o.batch : 64;
    if (!quiet) std::fprintf(stderr, "mirror_units: %s; %lld images, %lld identities x %lld views\n", net.description.c_str(),
                             static_cast<long long>(set.size()), static_cast<long long>(identities), static_cast<long long>(views));
    const auto main_counts = analyse(net, layers, set, labels, face_label, mirror_rows, identities, views, batch, mc);
    std::vector<std::vector<LayerCounts>> untrained;
    for (int64_t k = 0; k < untrained_nets; ++k) {
      analysis::NetSpec spec;
      spec.model = net.model.name;
      spec.untrained = true;
      spec.seed = net_o.spec.seed + 1 + static_cast<uint64_t>(k);
      spec.in_channels = net.model.in_channels;
      spec.image_size = net.model.image_size;
      spec.num_classes = net.model.num_classes;
      spec.normalization = !net_o.spec.normalization.empty() ? net_o.spec.normalization
                           : !net_o.spec.weights.empty()     ? net_o.spec.weights
                                                             : "none";
      spec.device = net_o.spec.device;
      analysis::AnalysisNet un = analysis::load_analysis_net(spec);
      if (!quiet) std::fprintf(stderr, "mirror_units: untrained net %lld/%lld\n", static_cast<long long>(k + 1), static_cast<long long>(untrained_nets));
      untrained.push_back(analyse(un, layers, set, labels, face_label, mirror_rows, identities, views, batch, mc));
    }

    fs::create_directories(out);
    std::ostringstream csv;
    csv << "model,layer,layer_index,units,criterion,count,share,ci_low,ci_high,nets,interval\n";
    nlohmann::json units_j, summary;
    double verdict_trained = NAN, verdict_untrained = NAN;
    for (size_t l = 0; l < layers.size(); ++l) {
      const LayerCounts& c = main_counts[l];
      for (int i = 0; i < kNumCriteria; ++i) {
        const analysis::ShareCi s = analysis::binomial_share(c.count[i], c.units);
        csv << label << "," << layers[l] << "," << l << "," << c.units << "," << kCriteria[i] << "," << c.count[i] << ","
            << csv_number(s.share) << "," << csv_number(s.low) << "," << csv_number(s.high) << ",1,binomial\n";
        if (i == 1 && layers[l] == verdict_layer) verdict_trained = s.share;
        if (!untrained.empty()) {
          std::vector<double> shares;
          double mean_count = 0;
          for (const auto& u : untrained) {
            shares.push_back(static_cast<double>(u[l].count[i]) / static_cast<double>(u[l].units));
            mean_count += static_cast<double>(u[l].count[i]) / static_cast<double>(untrained.size());
          }
          const analysis::ShareCi t = analysis::t_share(shares, clip_intervals);
          csv << "untrained," << layers[l] << "," << l << "," << c.units << "," << kCriteria[i] << "," << csv_number(mean_count) << ","
              << csv_number(t.share) << "," << csv_number(t.low) << "," << csv_number(t.high) << "," << untrained.size()
              << (clip_intervals ? ",student_t_clipped\n" : ",student_t\n");
          if (i == 1 && layers[l] == verdict_layer) verdict_untrained = t.share;
        }
      }
      units_j[layers[l]] = {{"units", c.units}, {"face", c.face}, {"mirror", c.mirror}, {"mirror_strict", c.strict}};
    }
    write_text_atomic((fs::path(out) / "unit_shares.csv").string(), csv.str());
    write_text_atomic((fs::path(out) / "units.json").string(), units_j.dump() + "\n");
    summary = {{"model", label},
               {"network", net.description},
               {"stimuli", stimuli},
               {"face_category", category},
               {"views_deg", views_deg},
               {"identities", identities},
               {"layers", layers},
               {"untrained_nets", untrained_nets},
               {"student_t_clipped", clip_intervals},
               {"criteria",
                {{"face", "top mean response to faces and every face-vs-other rank-sum p < 0.001 (faces above)"},
                 {"mirror", "face unit, ANOVA over the views p < " + csv_number(mc.alpha_views) +
                                ", >= 2 peaks of the tuning curve, top view not frontal"},
                 {"mirror_strict", "mirror, and the top view's mirror view is a peak, tuning vs its reversal r >= " +
                                       csv_number(mc.min_reflection_r) + " (our choice)"},
                 {"mirror_any", "mirror without the face-unit condition"},
                 {"mirror_any_strict", "mirror_strict without the face-unit condition"}}}};
    if (!untrained.empty()) {
      const bool agrees = verdict_trained > 2 * verdict_untrained;
      summary["verdicts"].push_back({{"claim", "the net has more than twice the (face-selective) mirror units of untrained nets at " + verdict_layer +
                                                   " (Fig. 5-S4 text: trained fc6)"},
                                     {"layer", verdict_layer},
                                     {"share", verdict_trained},
                                     {"untrained_share", verdict_untrained},
                                     {"agrees", agrees}});
    }
    analysis::write_run_summary((fs::path(out) / "mirror_units.json").string(), summary, t0);
    if (!no_plot) analysis::run_plot_script("plot_mirror_units.py", "'" + out + "'");
    std::fprintf(stderr, "mirror_units: wrote %s/unit_shares.csv\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mirror_units: %s\n", e.what());
    return 1;
  }
  return 0;
}
