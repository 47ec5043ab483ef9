// Test support: a scripted HTTP/1.1 server on 127.0.0.1:0 for connection-handling tests
// the real server cannot trigger on demand (dropping a keep-alive connection mid-request,
// never answering). One thread serves connections one at a time; the i-th request received
// gets the i-th scripted behaviour (the last one repeats). Counters are thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace meridian::client::testing {

class FakeHttpServer {
 public:
  enum class Behavior {
    kAnswer,              // 200 {"status":"ok"}, keep the connection
    kAnswerThenClose,     // 200, then close the connection (keep-alive was not refused)
    kCloseWithoutAnswer,  // read the request, close without a reply
    kNeverAnswer,         // read the request, say nothing until the server stops
  };

  explicit FakeHttpServer(std::vector<Behavior> script) : script_(std::move(script)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(listener_, 8);
    socklen_t length = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeHttpServer() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
  }

  int port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections_accepted() const { return connections_accepted_; }
  int connections_closed() const { return connections_closed_; }
  int requests_received() const { return requests_received_; }

 private:
  // Waits for `fd` to become readable, giving up when the server stops.
  bool WaitReadable(int fd) {
    while (!stopping_) {
      pollfd descriptor{fd, POLLIN, 0};
      if (::poll(&descriptor, 1, 20) > 0) return true;
    }
    return false;
  }

  void Serve() {
    while (WaitReadable(listener_)) {
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      ++connections_accepted_;
      ServeConnection(connection);
      ::close(connection);
      ++connections_closed_;
    }
  }

  // Reads one request (headers plus Content-Length body); false on EOF or stop.
  bool ReadRequest(int connection, std::string& pending) {
    while (true) {
      const auto end = pending.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t body_bytes = 0;
        const auto length_at = pending.find("Content-Length: ");
        if (length_at != std::string::npos && length_at < end) {
          body_bytes = std::strtoul(pending.c_str() + length_at + 16, nullptr, 10);
        }
        if (pending.size() >= end + 4 + body_bytes) {
          pending.erase(0, end + 4 + body_bytes);
          return true;
        }
      }
      if (!WaitReadable(connection)) return false;
      char chunk[4096];
      const ssize_t read = ::recv(connection, chunk, sizeof(chunk), 0);
      if (read <= 0) return false;
      pending.append(chunk, static_cast<std::size_t>(read));
    }
  }

  void ServeConnection(int connection) {
    std::string pending;
    while (ReadRequest(connection, pending)) {
      const int index = requests_received_++;
      const Behavior behavior =
          script_[std::min<std::size_t>(static_cast<std::size_t>(index), script_.size() - 1)];
      if (behavior == Behavior::kCloseWithoutAnswer) return;
      if (behavior == Behavior::kNeverAnswer) {
        while (WaitReadable(connection)) {
          char chunk[4096];
          if (::recv(connection, chunk, sizeof(chunk), 0) <= 0) return;
        }
        return;
      }
      static constexpr char kReply[] =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
          "{\"status\":\"ok\"}";
      ::send(connection, kReply, sizeof(kReply) - 1, MSG_NOSIGNAL);
      if (behavior == Behavior::kAnswerThenClose) return;
    }
  }

  std::vector<Behavior> script_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_accepted_{0};
  std::atomic<int> connections_closed_{0};
  std::atomic<int> requests_received_{0};
  std::thread thread_;
};

}  // namespace meridian::client::testing
