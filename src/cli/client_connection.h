// What every client-side CLI command (get/put/delete, cluster ...) shares: the connection
// flags, the exit codes, the one-line failure, and building a client from the flags.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "meridian/client.h"

namespace CLI {
class App;
}

namespace meridian::cli {

inline constexpr int kExitRequestFailed = 1;  // the request or the server failed
inline constexpr int kExitUsage = 2;          // bad arguments

// A failure that ends the command: its exit code and its one-line reason.
struct Failure {
  int exit_code;
  std::string message;
};

// --url (default $MERIDIAN_URL, else http://127.0.0.1:8080), --cacert, --insecure,
// --timeout-ms. Values stay text so that bad ones are usage errors with one line.
struct ConnectionFlags {
  std::string url;
  std::string ca_file;
  bool insecure = false;
  std::string timeout_ms = "10000";
  std::string token;             // bearer token; default $MERIDIAN_TOKEN
  std::string certificate_file;  // --cert: client certificate (PEM) for https
  std::string private_key_file;  // --key
};
void AddConnectionFlags(CLI::App& command, ConnectionFlags& flags);

// A client for the flags; a usage failure for a bad timeout or endpoint.
std::variant<std::unique_ptr<client::Client>, Failure> Connect(const ConnectionFlags& flags);
// A request's error as a failure: client-side rejections are usage errors.
Failure RequestFailed(const client::Error& error);

// Connects with `flags` and runs `run` on the client; a connection failure is returned as is.
std::optional<Failure> WithClient(
    const ConnectionFlags& flags,
    const std::function<std::optional<Failure>(client::Client&)>& run);
// Prints the failure (if any) as one line, "meridian COMMAND: MESSAGE", with " (see --help)"
// after a usage error, and returns the exit code (0 without a failure). `command` is the words
// after `meridian`, e.g. "cluster status".
int Report(const std::string& command, const std::optional<Failure>& failure);

// Writes `text` to stdout and flushes.
void Print(const std::string& text);
// Rows of cells as left-aligned columns two spaces apart, every cell through Printable and
// "-" for an empty one.
std::string Table(std::vector<std::vector<std::string>> rows);

// Any bytes as one printable line (non-printable bytes and '\' as \xNN).
std::string Printable(std::string_view bytes);
// A whole decimal uint32, or nullopt.
std::optional<std::uint32_t> ParseUnsigned(const std::string& text);
// A whole decimal uint64, or nullopt.
std::optional<std::uint64_t> ParseUnsigned64(const std::string& text);

}  // namespace meridian::cli
