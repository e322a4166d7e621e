// experiments/analysis/encoding_data.h — real fMRI data for the encoding study, read from the
// files users download (eickenberg2017-encoding.md §1): CRCNS vim-1's EstimatedResponses.mat.
//
// Also: any NPY responses described by a JSON manifest (SimVox writes this layout), and
// Haxby-style stimulus folders (one sub-folder of images per category: face/, house/).
//
// vim-1 (Kay et al. 2008): one MATLAB v7.3 (HDF5) file holding, per subject k = 1, 2,
//   dataTrnS<k>  voxels x 1750  the GLM activation of every voxel for each training image
//   dataValS<k>  voxels x 120   the same for the validation images
//   roiS<k>      voxels x 1     ROI code: 0 other, 1 V1, 2 V2, 3 V3, 4 V3A, 5 V3B, 6 V4, 7 LatOcc
//   voxIdxS<k>   voxels x 1     the voxel's linear index in the 64 x 64 x 18 functional volume
// Some voxels have NaN responses: they are dropped (with any other non-finite value) and counted,
// never passed on. The response
// matrices may also be stored images x voxels (a transposed export): the ROI vector's length
// says which axis is the voxels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "engine/tensor.h"

namespace ml::analysis {

// The ROI names of vim-1's codes 0..7.
const std::vector<std::string>& vim1_roi_names();

struct Vim1Data {
  Eigen::MatrixXf train;              // (1750 images, kept voxels)
  Eigen::MatrixXf val;                // (120 images, kept voxels)
  std::vector<int> roi;               // per kept voxel, 0..7
  std::vector<int64_t> voxel_index;   // per kept voxel, voxIdx (as stored, 1-based in MATLAB)
  int64_t voxels_in_file = 0;
  int64_t dropped_nan = 0;            // voxels with a NaN response, dropped
};

// Reads subject `subject` (1 or 2) of an EstimatedResponses.mat; errors name the file, the
// variable and what is wrong (missing, shape, ROI code out of range), before anything is kept.
Vim1Data read_vim1(const std::string& path, int subject);

// vim-1's stimuli, Stimuli.mat (a MATLAB v5/v7 file as CRCNS ships it; v7.3 read too):
//   stimTrn  1750 x 128 x 128  the training images (images x rows x columns, gray)
//   stimVal   120 x 128 x 128  the validation images
// Rows follow EstimatedResponses.mat's image order. Returned as (N, 1, H, W) float32 in [0, 1]:
// uint8 files divided by 255; float files kept when they lie in [0, 1], shifted by +0.5 when they
// lie in [-0.5, 0.5] (a zero-mean export), divided by 255 when they lie in [0, 255]; any other
// range is an error naming it (the rule applied is returned in `range_rule`).
struct Vim1Stimuli {
  Tensor train, val;            // (1750, 1, H, W), (120, 1, H, W)
  double min = 0, max = 0;      // over both variables, as stored
  std::string range_rule;
};
Vim1Stimuli read_vim1_stimuli(const std::string& path);

// NPY responses with a manifest (JSON): {"responses": "r.npy" (images, voxels) float32,
// "groups": [one fold label per image], optional "roi": [one name per voxel]}; paths relative
// to the manifest. Voxels with a non-finite response are dropped and counted.
struct NpyResponses {
  Eigen::MatrixXf responses;            // (images, kept voxels)
  std::vector<int64_t> groups;          // (images)
  std::vector<int64_t> kept;            // column in the file of each kept voxel
  std::vector<std::string> roi;         // per kept voxel ("" when the manifest has none)
  int64_t voxels_in_file = 0, dropped_nan = 0;
  // Optional validation set: "val_responses" (R * m, voxels) repeat-major (SimVox's layout) with
  // "val_repeats": R (default 1), averaged over the repeats -> (m, kept voxels). A voxel with a
  // non-finite value in either file is dropped.
  Eigen::MatrixXf val;
  int64_t val_repeats = 0;
};
NpyResponses read_npy_responses(const std::string& manifest);

// Haxby-style folders: <dir>/<category>/*.png|jpg|jpeg for each category, in name order.
struct CategoryImages {
  std::vector<std::string> files;
  std::vector<int> category;            // index into the categories asked for
};
CategoryImages read_category_folders(const std::string& dir, const std::vector<std::string>& categories);

}  // namespace ml::analysis
