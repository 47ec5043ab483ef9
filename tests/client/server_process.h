// Test support: runs the real `meridian serve` binary (path from the MERIDIAN_BIN compile
// definition) on free loopback ports with a temporary data directory, and makes self-signed
// TLS certificates with the `openssl` command. Used by one test thread at a time.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meridian::client::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with the object.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/meridian-client-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes cert.pem and key.pem (self-signed, valid for 127.0.0.1 and localhost) into `dir`.
inline bool MakeSelfSignedCertificate(const std::string& dir) {
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
      dir + "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

class ServerProcess {
 public:
  // Starts `meridian serve --data-dir DIR --http 127.0.0.1:0 <extra_arguments>` and waits (at
  // most 30 s) for its ready line. On failure returns nullptr and fills `error`.
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra_arguments,
                                              std::string& error) {
    auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
    if (server->directory_.path().empty()) {
      error = "cannot create a temporary directory";
      return nullptr;
    }
    std::vector<std::string> arguments = {MERIDIAN_BIN, "serve",
                                          "--data-dir", server->directory_.path() + "/data",
                                          "--http",     "127.0.0.1:0"};
    arguments.insert(arguments.end(), extra_arguments.begin(), extra_arguments.end());
    int stdout_pipe[2];
    if (::pipe(stdout_pipe) != 0) {
      error = "pipe failed";
      return nullptr;
    }
    const std::string log_path = server->directory_.path() + "/server.log";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(stdout_pipe[1], STDOUT_FILENO);
      const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log >= 0) ::dup2(log, STDERR_FILENO);
      ::close(stdout_pipe[0]);
      std::vector<char*> argv;
      for (auto& argument : arguments) argv.push_back(argument.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(stdout_pipe[1]);
    server->pid_ = pid;
    server->stdout_fd_ = stdout_pipe[0];
    if (!server->ReadReadyLine(error)) {
      error += "; server log: " + server->Log();
      return nullptr;
    }
    return server;
  }

  ~ServerProcess() {
    Stop();
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }

  // SIGTERM, then waits (at most 20 s, then SIGKILL). Returns the exit status (as waitpid).
  int Stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_status_ = status;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        exit_status_ = status;
        break;
      }
      ::poll(nullptr, 0, 10);  // brief pause between exit checks, bounded by the deadline
    }
    pid_ = -1;
    return exit_status_;
  }

  std::string HttpUrl() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  std::string HttpsUrl() const { return "https://127.0.0.1:" + std::to_string(https_port_); }
  int http_port() const { return http_port_; }
  int https_port() const { return https_port_; }

  std::string Log() const {
    std::string text;
    if (FILE* file = std::fopen((directory_.path() + "/server.log").c_str(), "r")) {
      char chunk[4096];
      while (const std::size_t read = std::fread(chunk, 1, sizeof(chunk), file)) {
        text.append(chunk, read);
      }
      std::fclose(file);
    }
    return text;
  }

 private:
  ServerProcess() = default;

  bool ReadReadyLine(std::string& error) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string line;
    while (line.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        error = "no ready line within 30 s (got '" + line + "')";
        return false;
      }
      pollfd descriptor{stdout_fd_, POLLIN, 0};
      if (::poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[256];
      const ssize_t read = ::read(stdout_fd_, chunk, sizeof(chunk));
      if (read <= 0) {
        error = "the server exited before its ready line (got '" + line + "')";
        return false;
      }
      line.append(chunk, static_cast<std::size_t>(read));
    }
    line.resize(line.find('\n'));
    http_port_ = PortAfter(line, "http=");
    https_port_ = PortAfter(line, "https=");
    if (!line.starts_with("meridian ready:") || http_port_ <= 0) {
      error = "unexpected ready line '" + line + "'";
      return false;
    }
    return true;
  }

  // The port of "NAME127.0.0.1:PORT" in `line`, or -1.
  static int PortAfter(const std::string& line, const std::string& name) {
    auto start = line.find(" " + name);
    if (start == std::string::npos) return -1;
    start += name.size() + 1;
    const auto end = line.find(' ', start);
    const std::string address = line.substr(start, end - start);
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return -1;
    return std::atoi(address.c_str() + colon + 1);
  }

  TemporaryDirectory directory_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int exit_status_ = -1;
  int http_port_ = -1;
  int https_port_ = -1;
};

}  // namespace meridian::client::testing
