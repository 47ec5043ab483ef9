#include "cli/client_connection.h"

#include <CLI/CLI.hpp>

#include <charconv>
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

std::optional<std::uint32_t> ParseUnsigned(const std::string& text) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
  return value;
}

}  // namespace meridian::cli
