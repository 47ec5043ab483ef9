// The meridian-resp and redis drivers: RESP2 over plain TCP, GET for reads and SET for
// writes (the context of a read-modify-write is not used: SET overwrites). Each connection
// carries its commands back to back (pipelined when several workers share it) and matches
// replies in order. A broken or timed-out connection fails every command on it and is
// reopened by the next command.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/driver.h"
#include "bench/resp_reply.h"

namespace meridian::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

constexpr std::size_t kReadChunk = 64 * 1024;

class RespConnection : public std::enable_shared_from_this<RespConnection> {
 public:
  RespConnection(asio::io_context& loop, const tcp::resolver::results_type& addresses,
                 std::string endpoint_text, std::uint32_t timeout_ms)
      : loop_(loop),
        addresses_(addresses),
        endpoint_text_(std::move(endpoint_text)),
        timeout_ms_(timeout_ms),
        timer_(loop) {}

  void Send(bool is_read, std::string_view key, std::string_view value, Completion* done) {
    if (is_read) {
      AppendRespCommand(queued_, {"GET", key});
    } else {
      AppendRespCommand(queued_, {"SET", key, value});
    }
    Awaiting awaiting{done, is_read, {}};
    if (timeout_ms_ != 0) awaiting.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
    awaiting_.push_back(awaiting);
    if (state_ == State::kClosed) {
      Connect();
    } else if (state_ == State::kOpen) {
      StartWrite();
      StartRead();
    }
    ArmTimer();
  }

  void Shutdown() {
    shut_down_ = true;
    CloseLink();
    timer_.cancel();
    awaiting_.clear();
  }

 private:
  enum class State { kClosed, kConnecting, kOpen };

  struct Awaiting {
    Completion* done;
    bool is_read;
    Clock::time_point deadline;
  };

  // One socket's lifetime; handlers keep it alive until they have run.
  struct Link {
    explicit Link(asio::io_context& loop) : socket(loop) {}
    tcp::socket socket;
    std::string out;       // bytes being written
    std::vector<char> in;  // received bytes [begin, end) not yet parsed
    std::size_t begin = 0;
    std::size_t end = 0;
  };

  void Connect() {
    state_ = State::kConnecting;
    link_ = std::make_shared<Link>(loop_);
    asio::async_connect(
        link_->socket, addresses_,
        [self = shared_from_this(), link = link_](ErrorCode ec, const tcp::endpoint&) {
          if (self->shut_down_ || link != self->link_) return;
          if (ec) {
            self->Fail("connect to " + self->endpoint_text_ + ": " + ec.message());
            return;
          }
          ErrorCode ignored;
          link->socket.set_option(tcp::no_delay(true), ignored);
          self->state_ = State::kOpen;
          self->StartWrite();
          self->StartRead();
        });
  }

  void StartWrite() {
    if (writing_ || queued_.empty() || state_ != State::kOpen) return;
    writing_ = true;
    link_->out.clear();
    std::swap(link_->out, queued_);
    asio::async_write(link_->socket, asio::buffer(link_->out),
                      [self = shared_from_this(), link = link_](ErrorCode ec, std::size_t) {
                        if (self->shut_down_ || link != self->link_) return;
                        self->writing_ = false;
                        if (ec) {
                          self->Fail("send to " + self->endpoint_text_ + ": " + ec.message());
                          return;
                        }
                        self->StartWrite();
                      });
  }

  void StartRead() {
    if (reading_ || awaiting_.empty() || state_ != State::kOpen) return;
    Link& link = *link_;
    if (link.in.size() - link.end < kReadChunk / 4) {
      if (link.begin > 0) {
        std::memmove(link.in.data(), link.in.data() + link.begin, link.end - link.begin);
        link.end -= link.begin;
        link.begin = 0;
      }
      if (link.in.size() - link.end < kReadChunk / 4) {
        link.in.resize(std::max(kReadChunk, link.in.size() * 2));
      }
    }
    reading_ = true;
    link.socket.async_read_some(
        asio::buffer(link.in.data() + link.end, link.in.size() - link.end),
        [self = shared_from_this(), link = link_](ErrorCode ec, std::size_t bytes) {
          if (self->shut_down_ || link != self->link_) return;
          self->reading_ = false;
          if (ec) {
            self->Fail("receive from " + self->endpoint_text_ + ": " + ec.message());
            return;
          }
          link->end += bytes;
          self->DeliverReplies(link);
        });
  }

  // Hands every complete reply in the buffer to its command's completion.
  void DeliverReplies(const std::shared_ptr<Link>& link) {
    while (link == link_ && !awaiting_.empty()) {
      RespReply reply;
      const std::string_view data(link->in.data() + link->begin, link->end - link->begin);
      const std::ptrdiff_t used = ParseRespReply(data, reply);
      if (used == 0) break;
      if (used < 0) {
        Fail("unreadable reply from " + endpoint_text_);
        return;
      }
      link->begin += static_cast<std::size_t>(used);
      const Awaiting awaiting = awaiting_.front();
      awaiting_.pop_front();
      Outcome outcome{true, true, {}};
      if (reply.kind == RespKind::kError) {
        error_text_.assign(reply.text);
        outcome = Outcome{false, true, error_text_};
      } else if (awaiting.is_read) {
        outcome.found = reply.kind != RespKind::kNil;
      } else if (reply.kind != RespKind::kSimple) {
        error_text_ = "unexpected reply to SET";
        outcome = Outcome{false, true, error_text_};
      }
      if (awaiting.is_read) {
        awaiting.done->OnRead(outcome, {});
      } else {
        awaiting.done->OnWrite(outcome);
      }
      if (shut_down_) return;
    }
    if (link == link_) {
      if (link->begin == link->end && !reading_) link->begin = link->end = 0;
      StartRead();
    }
  }

  void ArmTimer() {
    if (timer_armed_ || awaiting_.empty() || timeout_ms_ == 0) return;
    timer_armed_ = true;
    timer_.expires_at(awaiting_.front().deadline);
    timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_](ErrorCode) {
      if (self->shut_down_ || generation != self->timer_generation_) return;
      self->timer_armed_ = false;
      if (self->awaiting_.empty()) return;
      if (Clock::now() >= self->awaiting_.front().deadline) {
        self->Fail("timed out: no reply from " + self->endpoint_text_ + " within " +
                   std::to_string(self->timeout_ms_) + " ms");
        return;
      }
      self->ArmTimer();
    });
  }

  void CloseLink() {
    if (link_) {
      ErrorCode ignored;
      link_->socket.close(ignored);
      link_.reset();
    }
    state_ = State::kClosed;
    writing_ = false;
    reading_ = false;
  }

  // Closes the connection and fails every command on it.
  void Fail(const std::string& reason) {
    CloseLink();
    queued_.clear();
    std::deque<Awaiting> failed;
    failed.swap(awaiting_);
    auto self = shared_from_this();
    error_text_ = reason;
    for (const Awaiting& awaiting : failed) {
      const Outcome outcome{false, true, error_text_};
      if (awaiting.is_read) {
        awaiting.done->OnRead(outcome, {});
      } else {
        awaiting.done->OnWrite(outcome);
      }
      if (shut_down_) return;
    }
  }

  asio::io_context& loop_;
  const tcp::resolver::results_type& addresses_;
  std::string endpoint_text_;
  std::uint32_t timeout_ms_;
  asio::steady_timer timer_;
  std::shared_ptr<Link> link_;
  State state_ = State::kClosed;
  std::string queued_;  // encoded commands not yet written
  std::deque<Awaiting> awaiting_;
  std::string error_text_;
  bool writing_ = false;
  bool reading_ = false;
  bool shut_down_ = false;
  bool timer_armed_ = false;
  std::uint64_t timer_generation_ = 0;
};

class RespDriver final : public Driver {
 public:
  RespDriver(asio::io_context& loop, tcp::resolver::results_type addresses,
             const BenchConfig& config, std::size_t connections)
      : addresses_(std::move(addresses)) {
    const std::string endpoint_text = std::string(DriverName(config.driver)) + " " + config.address;
    for (std::size_t i = 0; i < connections; ++i) {
      connections_.push_back(
          std::make_shared<RespConnection>(loop, addresses_, endpoint_text, config.timeout_ms));
    }
  }

  ~RespDriver() override { Close(); }

  void Read(std::size_t connection, std::string_view key, Completion* done) override {
    connections_[connection % connections_.size()]->Send(true, key, {}, done);
  }

  void Write(std::size_t connection, std::string_view key, std::string_view value, std::string_view,
             Completion* done, bool /*conditional: refused by Validate*/) override {
    connections_[connection % connections_.size()]->Send(false, key, value, done);
  }

  void Close() override {
    for (auto& connection : connections_) connection->Shutdown();
  }

 private:
  tcp::resolver::results_type addresses_;
  std::vector<std::shared_ptr<RespConnection>> connections_;
};

}  // namespace

client::Result<std::unique_ptr<Driver>> MakeRespDriver(const BenchConfig& config,
                                                       asio::io_context& loop,
                                                       std::size_t connections) {
  auto address = ParseHostPort(config.address);
  if (!address.ok()) return address.error();
  ErrorCode ec;
  tcp::resolver resolver(loop);
  auto addresses = resolver.resolve(address->host, std::to_string(address->port), ec);
  if (ec) {
    client::Error error;
    error.code = client::ErrorCode::kConnectionFailed;
    error.message = "cannot resolve " + address->host + ": " + ec.message();
    return error;
  }
  return std::unique_ptr<Driver>(new RespDriver(loop, std::move(addresses), config, connections));
}

}  // namespace meridian::bench
