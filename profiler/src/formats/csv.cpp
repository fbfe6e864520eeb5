#include "scmoe/profiler/formats/csv.h"

#include "scmoe/profiler/formats/atomic_file.h"
#include "scmoe/profiler/formats/chrome_json_schema.h"

namespace scmoe::prof::formats {

void append_csv_field(std::string& out, std::string_view field) {
  const bool needs_quotes = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                            (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!needs_quotes) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (const char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_csv_row(std::string& out, const std::vector<std::string>& row) {
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i) out.push_back(',');
    append_csv_field(out, row[i]);
  }
  out.push_back('\n');
}

std::string write_csv(const std::string& path, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows) {
  AtomicFileWriter out;
  if (std::string err = out.open(path); !err.empty()) return err;
  std::string buf;
  append_csv_row(buf, header);
  for (const auto& row : rows) {
    append_csv_row(buf, row);
    if (buf.size() > (1 << 20)) {
      out.write(buf);
      buf.clear();
    }
  }
  out.write(buf);
  return out.commit();
}

const std::vector<std::string>& span_csv_header() {
  static const std::vector<std::string> header = {"rank",   "device", "track",       "name",
                                                  "category", "start_ns", "end_ns", "duration_ns",
                                                  "layer",  "iteration", "flags"};
  return header;
}

std::string export_spans_csv(const Trace& trace, const std::string& path) {
  AtomicFileWriter out;
  if (std::string err = out.open(path); !err.empty()) return err;
  std::string buf;
  append_csv_row(buf, span_csv_header());
  for (const Track& t : trace.tracks) {
    std::string prefix = std::to_string(t.info.rank) + ',' +
                         (t.info.device_kind == DeviceKind::Gpu ? "gpu:" : "cpu:") + std::to_string(t.info.device) +
                         ',';
    append_csv_field(prefix, t.info.name);
    prefix.push_back(',');
    for (const Span& s : t.spans) {
      buf.append(prefix);
      append_csv_field(buf, trace.strings.view(s.name));
      buf.push_back(',');
      buf.append(category_name(s.category)).push_back(',');
      buf.append(std::to_string(s.start_ns)).push_back(',');
      buf.append(std::to_string(s.end_ns)).push_back(',');
      buf.append(std::to_string(s.end_ns - s.start_ns)).push_back(',');
      if (s.layer != kNoIndex) buf.append(std::to_string(s.layer));
      buf.push_back(',');
      if (s.iteration != kNoIndex) buf.append(std::to_string(s.iteration));
      buf.push_back(',');
      buf.append(flags_text(s.flags)).push_back('\n');
      if (buf.size() > (1 << 20)) {
        out.write(buf);
        buf.clear();
      }
    }
  }
  out.write(buf);
  return out.commit();
}

}  // namespace scmoe::prof::formats
