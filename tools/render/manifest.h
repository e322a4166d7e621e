// tools/render/manifest.h — the stimulus set's manifest.csv.
//
// Header `file,label,category,exemplar,view_deg`, one row per image: file relative to the
// manifest's folder, label = the category's index in the set's category list (so
// engine/data/image_folder.h reads the set as a labelled image folder), exemplar 0-based,
// view_deg the yaw in degrees written in the shortest form (-67.5, 0, 22.5, 90).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ml::render {

struct ManifestRow {
  std::string file;
  int64_t label = -1;  // -1: the column was absent (read_manifest only)
  std::string category;
  int64_t exemplar = 0;
  double view_deg = 0.0;
};

// "-67.5", "0", "22.5" (up to 6 significant digits, no trailing zeros).
std::string format_view(double deg);

// "face_03_m67.5.png": category, exemplar (2 digits or more), view with m/p for the sign
// (the view 0 has none).
std::string image_name(const std::string& category, int64_t exemplar, double view_deg);

// Category names become file names and CSV fields unquoted: letters, digits, '_', '-', '.'
// only, not empty and not starting with '.'. The error names the category and `where`.
void check_category_name(const std::string& name, const std::string& where);

std::string manifest_csv(const std::vector<ManifestRow>& rows);

// Reads a manifest with at least the columns file, category, exemplar, view_deg (label is
// optional); quoted fields (RFC 4180) are accepted. Errors name the file, the row and the
// column. `file` is returned as written (relative to the manifest's folder unless absolute).
std::vector<ManifestRow> read_manifest(const std::string& path);

}  // namespace ml::render
