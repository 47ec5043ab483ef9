#include "cli/client_connection.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace meridian::cli {

namespace {
std::string DefaultUrl() {
  const char* from_environment = std::getenv("MERIDIAN_URL");
  return (from_environment != nullptr && *from_environment != '\0') ? from_environment
                                                                    : "http://127.0.0.1:8080";
}
}  // namespace

void AddConnectionFlags(CLI::App& command, ConnectionFlags& flags) {
  flags.url = DefaultUrl();
  command.add_option("--url", flags.url, "Server endpoint (default: $MERIDIAN_URL)")
      ->capture_default_str();
  command.add_option("--cacert", flags.ca_file, "PEM file of CA certificates for https");
  command.add_flag("--insecure", flags.insecure, "Do not verify the server's certificate");
  if (const char* token = std::getenv("MERIDIAN_TOKEN"); token != nullptr) flags.token = token;
  command.add_option("--token", flags.token,
                     "Bearer token of a user (default: $MERIDIAN_TOKEN; prefer the variable: "
                     "command lines are visible to other local users)");
  command.add_option("--cert", flags.certificate_file,
                     "Client certificate (PEM, `meridian cert client`) for https: authenticates "
                     "as the user it names");
  command.add_option("--key", flags.private_key_file, "The client certificate's key (PEM)");
  command.add_option("--timeout-ms", flags.timeout_ms, "Request timeout, 0 = none")
      ->capture_default_str();
}

std::optional<Failure> WithClient(
    const ConnectionFlags& flags,
    const std::function<std::optional<Failure>(client::Client&)>& run) {
  auto client = Connect(flags);
  if (auto* failure = std::get_if<Failure>(&client)) return *failure;
  return run(*std::get<std::unique_ptr<client::Client>>(client));
}

int Report(const std::string& command, const std::optional<Failure>& failure) {
  if (!failure) return 0;
  const std::string hint = failure->exit_code == kExitUsage ? " (see --help)" : "";
  std::fprintf(stderr, "meridian %s: %s%s\n", command.c_str(), failure->message.c_str(),
               hint.c_str());
  return failure->exit_code;
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string Table(std::vector<std::vector<std::string>> rows) {
  std::vector<std::size_t> widths;
  for (auto& row : rows) {
    for (std::size_t column = 0; column < row.size(); ++column) {
      if (row[column].empty()) row[column] = "-";
      row[column] = Printable(row[column]);
      if (widths.size() <= column) widths.push_back(0);
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t column = 0; column < row.size(); ++column) {
      line += row[column];
      if (column + 1 < row.size()) line.append(widths[column] - row[column].size() + 2, ' ');
    }
    text += line + "\n";
  }
  return text;
}

std::variant<std::unique_ptr<client::Client>, Failure> Connect(const ConnectionFlags& flags) {
  client::ClientOptions options;
  options.endpoint = flags.url;
  options.ca_file = flags.ca_file;
  options.verify_peer = !flags.insecure;
  options.token = flags.token;
  options.certificate_file = flags.certificate_file;
  options.private_key_file = flags.private_key_file;
  const std::optional<std::uint32_t> timeout_ms = ParseUnsigned(flags.timeout_ms);
  if (!timeout_ms) return Failure{kExitUsage, "--timeout-ms must be a non-negative integer"};
  options.timeout_ms = *timeout_ms;
  auto created = client::Client::Create(std::move(options));
  if (!created.ok()) {
    const bool usage = created.error().code == client::ErrorCode::kInvalidArgument;
    return Failure{usage ? kExitUsage : kExitRequestFailed, created.error().message};
  }
  return std::move(created).value();
}

Failure RequestFailed(const client::Error& error) {
  const bool usage = error.code == client::ErrorCode::kInvalidArgument;
  return Failure{usage ? kExitUsage : kExitRequestFailed, Printable(error.ToString())};
}

std::string Printable(std::string_view bytes) {
  std::string text;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F && byte != '\\') {
      text.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      text += "\\x";
      text.push_back(kHex[byte >> 4]);
      text.push_back(kHex[byte & 0x0F]);
    }
  }
  return text;
}

namespace {
template <typename Unsigned>
std::optional<Unsigned> ParseWhole(const std::string& text) {
  Unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
  return value;
}
}  // namespace

std::optional<std::uint32_t> ParseUnsigned(const std::string& text) {
  return ParseWhole<std::uint32_t>(text);
}

std::optional<std::uint64_t> ParseUnsigned64(const std::string& text) {
  return ParseWhole<std::uint64_t>(text);
}

}  // namespace meridian::cli
