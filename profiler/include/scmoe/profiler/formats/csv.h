// CSV (RFC 4180) output: a generic table writer for analysis tables, and the span export.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scmoe/profiler/trace.h"

namespace scmoe::prof::formats {

// Appends one field, quoted when it contains a comma, quote, CR/LF or leading/trailing space (quotes
// doubled inside).
void append_csv_field(std::string& out, std::string_view field);
// Appends the fields joined by commas, then a newline.
void append_csv_row(std::string& out, const std::vector<std::string>& row);

// Writes header + rows atomically. Returns "" or an error. Rows may have any number of fields.
std::string write_csv(const std::string& path, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows);

// The span export columns.
const std::vector<std::string>& span_csv_header();  // rank,device,track,name,category,start_ns,...
// One row per span, tracks in order, spans in track order; device is "gpu:N" or "cpu:N"; layer and
// iteration empty when unknown; flags as names joined by '|'. Streams; atomic. Returns "" or an error.
std::string export_spans_csv(const Trace& trace, const std::string& path);

}  // namespace scmoe::prof::formats
