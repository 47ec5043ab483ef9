// A small data-driven test runner in the style of etcd-raft's testdata files
// (github.com/cockroachdb/datadriven): a file is a list of cases
//
//   # comments and blank lines between cases are ignored
//   command arg key=value ...
//   ----
//   expected output, one or more lines
//   <blank line>
//
// RunDataDriven calls `run` for every case in order and compares what it returns with the
// expected output. With MERIDIAN_REWRITE=1 in the environment it rewrites the file with the
// actual outputs instead (then review the diff). Single-threaded; for tests only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace meridian::test_support {

struct DataDrivenCase {
  std::string command;                    // the first word
  std::vector<std::string> args;          // the other words, in order
  std::map<std::string, std::string> kv;  // the key=value words
  std::string line;                       // the whole command line
  int line_number = 0;

  bool Has(const std::string& key) const { return kv.count(key) != 0; }
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : it->second;
  }
};

inline std::string TrimTrailingNewlines(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

inline void RunDataDriven(const std::string& path,
                          const std::function<std::string(const DataDrivenCase&)>& run) {
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "cannot read " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const bool rewrite = std::getenv("MERIDIAN_REWRITE") != nullptr;
  std::ostringstream rewritten;

  std::size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      rewritten << line << "\n";
      ++i;
      continue;
    }
    DataDrivenCase c;
    c.line = line;
    c.line_number = static_cast<int>(i + 1);
    std::istringstream words(line);
    words >> c.command;
    for (std::string word; words >> word;) {
      const auto equals = word.find('=');
      if (equals != std::string::npos) c.kv[word.substr(0, equals)] = word.substr(equals + 1);
      c.args.push_back(word);
    }
    ++i;
    ASSERT_LT(i, lines.size()) << path << ":" << c.line_number << ": missing ----";
    ASSERT_EQ(lines[i], "----") << path << ":" << c.line_number << ": missing ----";
    ++i;
    std::string expected;
    while (i < lines.size() && !lines[i].empty()) expected += lines[i++] + "\n";
    const std::string actual = TrimTrailingNewlines(run(c));
    if (rewrite) {
      rewritten << line << "\n----\n" << actual << "\n";
    } else {
      EXPECT_EQ(actual, TrimTrailingNewlines(expected))
          << path << ":" << c.line_number << ": " << c.line;
    }
    if (i < lines.size()) {
      rewritten << "\n";
      ++i;  // the blank line after the case
    }
  }
  if (rewrite) {
    std::ofstream out(path);
    out << rewritten.str();
  }
}

}  // namespace meridian::test_support
