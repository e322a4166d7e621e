// engine/io/csv.h — the CSV files researchers hand the programs (image-folder and stimulus
// manifests): RFC 4180 parsing, so a file name with a comma survives a round trip through a
// spreadsheet.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ml {

struct CsvRow {
  int64_t line;  // where the row starts in the file (1-based), for messages
  std::vector<std::string> fields;
};

// RFC 4180: comma-separated, a field in double quotes may hold commas, newlines and ""
// (one quote). Line ends \n or \r\n. Rows whose fields are all empty are dropped. Errors
// start with `who` (the calling program or function) and name `path` and the line.
std::vector<CsvRow> parse_csv(const std::string& text, const std::string& path, const std::string& who);

// A CSV file whose first row names the columns.
struct CsvTable {
  std::string path;
  std::vector<std::string> header;  // trimmed
  std::vector<CsvRow> rows;         // the data rows
  // The index of a column; an ml::Error names the file, the column and `who` when it is missing.
  int64_t column(const std::string& name, const std::string& who) const;
  bool has_column(const std::string& name) const;
};
CsvTable read_csv(const std::string& path, const std::string& who);

// A field with leading and trailing blanks removed.
std::string trim(const std::string& s);

// A number for a CSV the programs write: 6 significant digits ("%.6g"), NaN as "nan".
std::string csv_number(double v);

}  // namespace ml
