#include "engine/io/csv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace ml {

std::vector<CsvRow> parse_csv(const std::string& text, const std::string& path, const std::string& who) {
  std::vector<CsvRow> rows;
  CsvRow row{1, {}};
  std::string field;
  bool quoted = false, field_was_quoted = false;
  int64_t line = 1;
  size_t i = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte-order mark
  auto end_row = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    const bool blank = std::all_of(row.fields.begin(), row.fields.end(), [](const std::string& f) { return f.empty(); });
    if (!blank || field_was_quoted) rows.push_back(std::move(row));
    row = CsvRow{line, {}};
    field_was_quoted = false;
  };
  for (; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == '"') {
      ML_CHECK(field.empty(), who, ": '", path, "' line ", line,
               ": a quote inside an unquoted field (quote the whole field and double the quote)");
      quoted = true;
      field_was_quoted = true;
    } else if (ch == ',') {
      row.fields.push_back(std::move(field));
      field.clear();
    } else if (ch == '\n') {
      ++line;
      end_row();
    } else if (ch == '\r') {
      // part of \r\n; a lone \r is dropped as well
    } else {
      field += ch;
    }
  }
  ML_CHECK(!quoted, who, ": '", path, "': a quoted field opened in row starting at line ", row.line,
           " is never closed");
  if (!field.empty() || !row.fields.empty() || field_was_quoted) end_row();
  return rows;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

CsvTable read_csv(const std::string& path, const std::string& who) {
  ML_CHECK(std::filesystem::is_regular_file(path), who, ": missing file '", path, "'");
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<CsvRow> rows = parse_csv(std::string(bytes.begin(), bytes.end()), path, who);
  ML_CHECK(!rows.empty(), who, ": '", path, "' is empty (expected a header row)");
  CsvTable t;
  t.path = path;
  for (const std::string& h : rows[0].fields) t.header.push_back(trim(h));
  t.rows.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  return t;
}

bool CsvTable::has_column(const std::string& name) const {
  return std::find(header.begin(), header.end(), name) != header.end();
}

int64_t CsvTable::column(const std::string& name, const std::string& who) const {
  const auto it = std::find(header.begin(), header.end(), name);
  ML_CHECK(it != header.end(), who, ": '", path, "' header row has no column '", name, "'");
  return it - header.begin();
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace ml
