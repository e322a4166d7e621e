#include "experiments/analysis/stitching.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "engine/ops.h"
#include "engine/optim.h"

namespace ml::analysis {

Tensor resample_sites(const Tensor& phi, int64_t h, int64_t w) {
  if (phi.dim() != 4 || (phi.size(2) == h && phi.size(3) == w)) return phi;
  const int64_t N = phi.size(0), C = phi.size(1), H = phi.size(2), W = phi.size(3);
  // A (h·w, H·W) sampling matrix, so the resampling is a differentiable matmul on any device.
  Tensor S = Tensor::zeros({h * w, H * W});
  auto axis = [](int64_t out, int64_t in, int64_t o, int64_t& i0, int64_t& i1, float& a) {
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    if (out < in) {  // nearest, as PyTorch's: input floor(o · in/out)
      i0 = i1 = std::min<int64_t>(in - 1, static_cast<int64_t>(std::floor(o * scale)));
      a = 0.f;
      return;
    }
    const double src = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
    i0 = static_cast<int64_t>(std::floor(src));
    i1 = std::min(in - 1, i0 + 1);
    a = static_cast<float>(src - static_cast<double>(i0));
  };
  for (int64_t i = 0; i < h; ++i) {
    int64_t y0, y1;
    float ay;
    axis(h, H, i, y0, y1, ay);
    for (int64_t j = 0; j < w; ++j) {
      int64_t x0, x1;
      float ax;
      axis(w, W, j, x0, x1, ax);
      float* row = S.data() + (i * w + j) * H * W;
      row[y0 * W + x0] += (1 - ay) * (1 - ax);
      row[y0 * W + x1] += (1 - ay) * ax;
      row[y1 * W + x0] += ay * (1 - ax);
      row[y1 * W + x1] += ay * ax;
    }
  }
  return linear(phi.reshape({N * C, H * W}), S.to(phi.device()), Tensor()).reshape({N, C, h, w});
}

Tensor apply_stitch(const Stitch& s, const Tensor& phi_a) {
  if (phi_a.dim() == 2) return linear(phi_a, s.weight.reshape({s.weight.size(0), s.weight.size(1)}), s.bias);
  return conv2d(resample_sites(phi_a, s.out_h, s.out_w), s.weight, s.bias);
}

Stitch train_stitch(AnalysisNet& a, const NetSplit& sa, AnalysisNet& b, const NetSplit& sb, const Tensor& images,
                    const Tensor& labels, const StitchOptions& o) {
  ML_CHECK(images.size(0) == labels.size(0) && images.size(0) > 0, "train_stitch: ", images.str(), " images for ",
           labels.str(), " labels");
  ML_CHECK(a.device == b.device, "train_stitch: the two networks are on different devices");
  return train_stitch_from_phi(stitch_features(a, sa, images), sa.tap(), b, sb,
                               images.slice(0, std::min<int64_t>(images.size(0), 256)), labels, o);
}

Tensor stitch_features(AnalysisNet& a, const NetSplit& sa, const Tensor& images, int64_t batch) {
  std::vector<Tensor> out;
  for (int64_t i0 = 0; i0 < images.size(0); i0 += batch) {
    const int64_t i1 = std::min(images.size(0), i0 + batch);
    out.push_back(sa.phi(normalise(a, images.slice(i0, i1))).to(Device::CPU));
  }
  return cat(out, 0);
}

Stitch train_stitch_from_phi(const Tensor& phi_a, const std::string& a_tap, AnalysisNet& b, const NetSplit& sb,
                             const Tensor& probe, const Tensor& labels, const StitchOptions& o) {
  ML_CHECK(phi_a.dim() >= 2 && phi_a.size(0) == labels.size(0) && labels.size(0) > 0, "train_stitch: features ",
           phi_a.str(), " for labels ", labels.str());
  ML_CHECK(probe.dim() == 4 && probe.size(0) >= 1, "train_stitch: probe must be (N >= 1, C, S, S) images, got ",
           probe.str());
  Generator gen(o.seed);
  Tensor pb = stitch_features(b, sb, o.standardise ? probe : probe.slice(0, 1));
  ML_CHECK(phi_a.dim() == pb.dim(), "train_stitch: cannot stitch layer '", a_tap, "' ", phi_a.str(), " into layer '",
           sb.tap(), "' ", pb.str(), " (a convolutional and a fully connected layer)");
  Stitch s;
  const int64_t ca = phi_a.size(1), cb = pb.size(1);
  if (pb.dim() == 4) s.out_h = pb.size(2), s.out_w = pb.size(3);
  const double bound = std::sqrt(6.0 / static_cast<double>(ca + cb));  // Xavier uniform, 1 x 1
  s.weight = Tensor::uniform({cb, ca, 1, 1}, static_cast<float>(-bound), static_cast<float>(bound), gen).to(b.device);
  s.bias = Tensor::zeros({cb}, DType::F32, b.device);
  s.weight.requires_grad_(true);
  s.bias.requires_grad_(true);
  // train_frozen batches (N, C, H, W) "images": FC features travel as (N, D, 1, 1).
  const bool fc = phi_a.dim() == 2;
  Tensor rows = fc ? phi_a.reshape({phi_a.size(0), phi_a.size(1), 1, 1}).to(Device::CPU) : phi_a.to(Device::CPU);
  // Standardised coordinates on both sides (our choice; the same affine map family): E'' is
  // trained from φ_A standardised per channel (μ_A, σ_A over the training images and sites) to
  // φ_B standardised per channel (μ_B, σ_B over the probe images), i.e. E x = σ_B ⊙ (E''
  // (x − μ_A)/σ_A + b'') + μ_B, and folded into one E and bias at the end. Xavier noise for E''
  // then starts at B's per-channel mean and scale. On raw features SGD is badly conditioned: a
  // post-ReLU layer (pool1: channels ≥ 0 with a large mean) has one stiff mean direction, and
  // the Xavier start is off B's scale, so a vgg_small pool1 self-stitch stayed at 0.30 top-1
  // error after 8 epochs against the net's 0.13 at every lr from 1e-3 to 1e-1. The nearest and
  // bilinear resampling commute with a per-channel affine map (weights sum to 1), so the fold is
  // exact where sizes differ too.
  std::vector<double> mu_a, sd_a, mu_b, sd_b;
  Tensor scale_b, shift_b;  // (1, C_B, 1, 1) or (1, D_B)
  if (o.standardise) {
    channel_stats(rows, mu_a, sd_a);
    channel_stats(fc ? pb.reshape({pb.size(0), pb.size(1), 1, 1}) : pb, mu_b, sd_b);
    rows = rows.clone();
    const int64_t N = rows.size(0), sites = rows.size(2) * rows.size(3);
    float* d = rows.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < ca; ++c)
        for (int64_t i = 0; i < sites; ++i) {
          float& v = d[(n * ca + c) * sites + i];
          v = static_cast<float>((v - mu_a[static_cast<size_t>(c)]) / sd_a[static_cast<size_t>(c)]);
        }
    const Shape bs = fc ? Shape{1, cb} : Shape{1, cb, 1, 1};
    std::vector<float> sc(sd_b.begin(), sd_b.end()), sh(mu_b.begin(), mu_b.end());
    scale_b = Tensor::from_vector(bs, sc, b.device);
    shift_b = Tensor::from_vector(bs, sh, b.device);
  }
  auto batch_loss = [&](const Tensor& hb, const Tensor& yb) {
    Tensor h = hb.to(b.device);
    if (fc) h = h.reshape({h.size(0), h.size(1)});
    Tensor z = apply_stitch(s, h);
    if (o.standardise) z = add(mul(z, scale_b), shift_b);
    return cross_entropy(sb.psi(z), yb.to(b.device));
  };
  FrozenTrainOptions fo;
  fo.optimizer = o.optimizer;
  fo.lr = o.lr, fo.epochs = o.epochs, fo.batch = o.batch, fo.progress = o.progress, fo.what = "stitch " + a_tap + " -> " + sb.tap();
  const HeldOut split = hold_out(rows, labels, o.patience > 0 ? o.validation : 0.0, "stitch");
  if (o.patience > 0) {
    fo.patience = o.patience;
    fo.validate = [&] { return mean_loss(split.val_x, split.val_y, o.batch, batch_loss); };
  }
  const FrozenTrainResult r = train_frozen({s.weight, s.bias}, split.train_x, split.train_y, gen, fo, batch_loss);
  s.weight = s.weight.detach().to(Device::CPU).clone();
  s.bias = s.bias.detach().to(Device::CPU).clone();
  if (o.standardise) {
    // Fold: σ_B,j (Σ_c E''_jc (x_c − μ_A,c)/σ_A,c + b''_j) + μ_B,j = Σ_c E_jc x_c + bias_j.
    float* w = s.weight.data();
    float* bias = s.bias.data();
    for (int64_t j = 0; j < cb; ++j) {
      const double sj = sd_b[static_cast<size_t>(j)];
      double shift = 0;
      for (int64_t c = 0; c < ca; ++c) {
        const double e = w[j * ca + c];
        shift += e * mu_a[static_cast<size_t>(c)] / sd_a[static_cast<size_t>(c)];
        w[j * ca + c] = static_cast<float>(sj * e / sd_a[static_cast<size_t>(c)]);
      }
      bias[j] = static_cast<float>(sj * (bias[j] - shift) + mu_b[static_cast<size_t>(j)]);
    }
  }
  s.weight = s.weight.to(b.device);
  s.bias = s.bias.to(b.device);
  s.epochs_run = r.epochs_run;
  s.best_epoch = r.best_epoch;
  return s;
}

double stitch_error(AnalysisNet& a, const NetSplit& sa, const NetSplit& sb, const Stitch& s, const Tensor& images,
                    const Tensor& labels, int64_t k, int64_t batch) {
  return stitch_error_from_phi(stitch_features(a, sa, images, batch), sb, s, labels, k, batch);
}

double stitch_error_from_phi(const Tensor& phi_a, const NetSplit& sb, const Stitch& s, const Tensor& labels, int64_t k,
                             int64_t batch) {
  ML_CHECK(phi_a.size(0) == labels.size(0), "stitch_error: features ", phi_a.str(), " for labels ", labels.str());
  NoGradGuard ng;
  std::vector<Tensor> logits;
  for (int64_t i0 = 0; i0 < phi_a.size(0); i0 += batch) {
    const int64_t i1 = std::min(phi_a.size(0), i0 + batch);
    logits.push_back(sb.psi(apply_stitch(s, phi_a.slice(i0, i1).to(s.weight.device()))).to(Device::CPU));
  }
  return topk_error(cat(logits, 0), labels, k);
}

}  // namespace ml::analysis
