#include "tools/render/manifest.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace ml::render {

namespace {

// RFC 4180 rows: fields separated by commas, a quoted field may hold commas, newlines and
// doubled quotes. Returns the rows with the line each starts on (for messages).
std::vector<std::pair<int64_t, std::vector<std::string>>> parse_csv(const std::string& text, const std::string& path) {
  std::vector<std::pair<int64_t, std::vector<std::string>>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  int64_t line = 1, row_line = 1;
  auto end_row = [&] {
    row.push_back(field);
    const bool blank = row.size() == 1 && row[0].empty() && !any;
    if (!blank) rows.emplace_back(row_line, row);
    row.clear();
    field.clear();
    any = false;
    row_line = line;
  };
  for (size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        line += ch == '\n';
        field += ch;
      }
    } else if (ch == '"') {
      ML_CHECK(field.empty(), "read_manifest: '", path, "' line ", line, ": a quote inside an unquoted field");
      quoted = any = true;
    } else if (ch == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (ch == '\n') {
      ++line;
      end_row();
    } else if (ch != '\r') {
      field += ch;
    }
  }
  ML_CHECK(!quoted, "read_manifest: '", path, "': a quoted field is never closed");
  if (!field.empty() || !row.empty() || any) end_row();
  return rows;
}

template <class T>
bool parse_number(const std::string& s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string format_view(double deg) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", deg == 0.0 ? 0.0 : deg);  // no "-0"
  return buf;
}

std::string image_name(const std::string& category, int64_t exemplar, double view_deg) {
  char ex[32];
  std::snprintf(ex, sizeof ex, "%02lld", static_cast<long long>(exemplar));
  std::string view = format_view(std::fabs(view_deg));
  if (view_deg < 0.0) view = "m" + view;
  if (view_deg > 0.0) view = "p" + view;
  return category + "_" + ex + "_" + view + ".png";
}

void check_category_name(const std::string& name, const std::string& where) {
  bool ok = !name.empty() && name[0] != '.';
  for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.');
  ML_CHECK(ok, where, ": category name '", name,
           "' must be non-empty, not start with '.', and use only letters, digits, '_', '-', '.'");
}

std::string manifest_csv(const std::vector<ManifestRow>& rows) {
  std::string out = "file,label,category,exemplar,view_deg\n";
  for (const auto& r : rows)
    out += r.file + "," + std::to_string(r.label) + "," + r.category + "," + std::to_string(r.exemplar) + "," +
           format_view(r.view_deg) + "\n";
  return out;
}

std::vector<ManifestRow> read_manifest(const std::string& path) {
  ML_CHECK(std::filesystem::is_regular_file(path), "read_manifest: missing manifest '", path, "'");
  const std::vector<uint8_t> bytes = read_file(path);
  const auto rows = parse_csv(std::string(bytes.begin(), bytes.end()), path);
  ML_CHECK(!rows.empty(), "read_manifest: '", path, "' is empty (expected a header file,category,exemplar,view_deg)");
  const auto& header = rows[0].second;
  auto column = [&](const std::string& name, bool required) -> int64_t {
    for (size_t k = 0; k < header.size(); ++k)
      if (header[k] == name) return static_cast<int64_t>(k);
    ML_CHECK(!required, "read_manifest: '", path, "' has no column '", name,
             "' (needs file, category, exemplar, view_deg)");
    return -1;
  };
  const int64_t c_file = column("file", true), c_cat = column("category", true), c_ex = column("exemplar", true),
                c_view = column("view_deg", true), c_label = column("label", false);
  std::vector<ManifestRow> out;
  for (size_t i = 1; i < rows.size(); ++i) {
    // Not a structured binding: the lambda below captures `f`, which clang before 16 refuses.
    const int64_t line = rows[i].first;
    const std::vector<std::string>& f = rows[i].second;
    const std::string where = "read_manifest: '" + path + "' line " + std::to_string(line);
    ML_CHECK(f.size() == header.size(), where, " has ", f.size(), " fields, the header ", header.size());
    auto field = [&](int64_t c) { return f[static_cast<size_t>(c)]; };
    ManifestRow r;
    r.file = field(c_file);
    ML_CHECK(!r.file.empty(), where, ": empty file name");
    r.category = field(c_cat);
    check_category_name(r.category, where);
    ML_CHECK(parse_number(field(c_ex), r.exemplar) && r.exemplar >= 0, where, ": exemplar '", field(c_ex),
             "' is not an integer >= 0");
    ML_CHECK(parse_number(field(c_view), r.view_deg) && std::isfinite(r.view_deg), where, ": view_deg '",
             field(c_view), "' is not a number");
    if (c_label >= 0)
      ML_CHECK(parse_number(field(c_label), r.label) && r.label >= 0, where, ": label '", field(c_label),
               "' is not an integer >= 0");
    out.push_back(r);
  }
  ML_CHECK(!out.empty(), "read_manifest: '", path, "' lists no images");
  return out;
}

}  // namespace ml::render
