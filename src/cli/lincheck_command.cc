// `meridian lincheck FILE [--budget N]`: checks a history file (sim/linearizability_history_file.h)
// for linearizability of per-key registers (sim/linearizability.h) and prints a one-paragraph
// verdict. Exits 0 when linearizable, 1 on a violation (with the explanation), 2 when the file
// is unreadable or malformed, or when some key cannot be decided within the step budget.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "sim/linearizability.h"
#include "sim/linearizability_history_file.h"

namespace meridian::cli {
namespace {

constexpr int kExitViolation = 1;
constexpr int kExitUndecided = 2;  // also: a bad file

struct LincheckArguments {
  std::string file;
  std::uint64_t budget = sim::CheckOptions{}.step_budget;
};

int RunLincheck(const LincheckArguments& arguments) {
  Result<std::vector<sim::Operation>> history = sim::ReadHistoryFile(arguments.file);
  if (!history.ok()) {
    std::cerr << "meridian lincheck: bad history file: " << history.status().message() << "\n";
    return kExitUndecided;
  }
  sim::CheckOptions options;
  options.step_budget = arguments.budget;
  const sim::CheckResult result = sim::CheckLinearizable(*history, options);
  std::cout << result.explanation << "\n";
  switch (result.verdict) {
    case sim::Verdict::kLinearizable:
      return 0;
    case sim::Verdict::kViolation:
      return kExitViolation;
    case sim::Verdict::kUndecided:
      return kExitUndecided;
  }
  return kExitUndecided;
}

}  // namespace

void AddLincheckCommand(CLI::App& app, int& exit_code) {
  auto arguments = std::make_shared<LincheckArguments>();
  CLI::App* command = app.add_subcommand(
      "lincheck",
      "Check a history file (JSON Lines) for linearizability of per-key registers; exit 0 "
      "linearizable, 1 violation, 2 bad file or undecided");
  command->add_option("file", arguments->file, "History file, one operation per line")->required();
  command->add_option("--budget", arguments->budget, "Search steps allowed per key")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->callback([arguments, &exit_code] { exit_code = RunLincheck(*arguments); });
}

}  // namespace meridian::cli
