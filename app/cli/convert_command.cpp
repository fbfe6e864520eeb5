// `scmoe convert IN... -o OUT`: opens traces in any supported format (several Kineto files become one
// multi-rank trace) and saves them in the format OUT's extension names.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "scmoe/profiler/formats/load.h"

namespace scmoe::cli {

namespace {
struct ConvertOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string rules;  // classification rules JSON (optional)
};

int run_convert(const ConvertOptions& opts) {
  if (std::string err = prof::formats::output_format_error(opts.output); !err.empty()) {
    std::cerr << "scmoe convert: " << err << "\n";
    return 2;
  }
  prof::formats::LoadOptions load;
  if (!opts.rules.empty()) {
    if (std::string err = load.rules.load_file(opts.rules); !err.empty()) {
      std::cerr << "scmoe convert: " << err << "\n";
      return 2;
    }
  }
  prof::formats::LoadResult loaded = prof::formats::load_traces(opts.inputs, load);
  if (!loaded.trace) {
    std::cerr << "scmoe convert: " << loaded.error << "\n";
    return 1;
  }
  if (std::string err = prof::formats::save_trace(*loaded.trace, opts.output); !err.empty()) {
    std::cerr << "scmoe convert: " << err << "\n";
    return 1;
  }
  std::cout << "wrote " << opts.output << ": " << loaded.trace->tracks.size() << " tracks, "
            << loaded.trace->span_count() << " spans, " << loaded.trace->flows.size() << " flows\n";
  return 0;
}
}  // namespace

void add_convert_command(CLI::App& app) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert traces between formats: native .scmoe, Chrome/Kineto JSON (.json, .json.gz), CSV");
  cmd->add_option("inputs", opts->inputs, "Input traces (.scmoe, Chrome/Kineto .json or .json.gz; one per rank)")
      ->required();
  cmd->add_option("-o,--output", opts->output, "Output file: .scmoe, .json, .json.gz or .csv")->required();
  cmd->add_option("--rules", opts->rules, "Classification rules JSON for imported traces (default: presets)")
      ->check(CLI::ExistingFile);
  cmd->callback([opts] { set_exit_code(run_convert(*opts)); });
}

}  // namespace scmoe::cli
