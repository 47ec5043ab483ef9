// RespConnection: one Redis-protocol client connection without the socket — input buffer,
// parser, pipelining and reply order. resp_server.cc moves bytes between it and a socket;
// tests drive it directly.
//
// Pipelining: every parsed command gets the next sequence number and runs at once (through
// RespCommands); its reply may come later (KvService completions are asynchronous) but the
// output carries replies strictly in command order. A reply that is next in order is encoded
// straight into the output buffer; one that overtakes an earlier command waits in a slot
// (a ring of pipeline_max reusable strings) until the earlier ones are done.
//
// Flow control: Process() stops running commands while pipeline_max commands are in flight
// (run, reply not yet in the output) or output_bytes_max reply bytes wait to be taken; the
// rest of the input stays buffered (WantsInput() is false, so the server stops reading)
// until replies drain. After QUIT or a protocol error the connection is closing: it runs no
// more commands, and is finished once every earlier reply has been taken.
//
// Threading: single-threaded, on the event loop that runs the KvService's completions. Held
// by shared_ptr: each pending completion keeps its connection alive (harmlessly) after the
// socket has gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/access_control.h"
#include "api/resp_parser.h"

namespace meridian::api {

class RespCommands;

struct RespConnectionLimits {
  RespParserLimits parser;
  std::size_t pipeline_max = 128;           // commands in flight per connection
  std::size_t output_bytes_max = 1u << 20;  // ready reply bytes not yet taken by the writer
};

class RespConnection : public std::enable_shared_from_this<RespConnection> {
 public:
  // `commands` must outlive the connection's use (it is shared with the server).
  RespConnection(std::shared_ptr<RespCommands> commands, const RespConnectionLimits& limits,
                 std::uint64_t id);

  // Input: writable space of at least `bytes` after the buffered input; then CommitInput with
  // how many bytes were written there.
  std::span<char> InputSpace(std::size_t bytes);
  void CommitInput(std::size_t bytes);
  std::size_t buffered_input() const { return input_end_ - input_start_; }

  // Parses and runs buffered commands until the input holds no complete command, a bound is
  // reached or the connection is closing. Replies ready at once are in the output afterwards.
  void Process();
  // Whether reading more input is useful now (not closing, under both bounds).
  bool WantsInput() const;

  bool has_output() const { return !output_.empty(); }
  // Moves the ready output into `into` (whose old contents are discarded; its buffer is
  // reused for the next output).
  void TakeOutput(std::string& into);

  // Called when a reply becomes ready (or a slot frees) outside Process(): the server then
  // writes it and may resume reading. Never called during Process().
  void SetWakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }

  // Runs no more commands and drops unparsed input (QUIT, protocol error, server stopping).
  void Close();
  // Answers the command still arriving with the error `message` (after the replies of the
  // commands before it), then closes as Close does.
  void Refuse(std::string_view message);
  // Bytes the input buffer holds now (its allocation: what an input budget must cover).
  std::size_t input_capacity() const { return input_.size(); }
  bool closing() const { return closing_; }
  // Closing, nothing in flight and no output left: the socket can be closed.
  bool finished() const { return closing_ && in_flight() == 0 && output_.empty(); }
  // Commands run whose reply is not in the output yet.
  std::size_t in_flight() const { return static_cast<std::size_t>(next_seq_ - head_seq_); }
  // Nothing buffered, in flight or waiting to be written.
  bool idle() const { return in_flight() == 0 && output_.empty() && buffered_input() == 0; }

  // Per-client state (CLIENT, HELLO).
  std::uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // The user this connection authenticated as (AUTH, HELLO ... AUTH); none before.
  const std::optional<User>& user() const { return user_; }
  void set_user(User user) { user_ = std::move(user); }
  // After MULTI (unsupported): commands are refused until EXEC or DISCARD.
  bool in_transaction() const { return in_transaction_; }
  void set_in_transaction(bool value) { in_transaction_ = value; }

  // For RespReply: the buffer reply `seq` is appended to, then EndReply(seq), exactly once.
  std::string& BeginReply(std::uint64_t seq);
  void EndReply(std::uint64_t seq);

 private:
  struct Slot {
    bool ready = false;
    std::string bytes;
  };
  Slot& SlotFor(std::uint64_t seq) { return slots_[seq % slots_.size()]; }
  // Moves consecutive ready slots after the head into the output.
  void DrainSlots();

  std::shared_ptr<RespCommands> commands_;
  RespConnectionLimits limits_;
  std::uint64_t id_;
  std::string name_;
  RespParser parser_;
  std::vector<char> input_;
  std::size_t input_start_ = 0;  // first unconsumed byte
  std::size_t input_end_ = 0;    // end of the received bytes
  std::string output_;
  std::vector<Slot> slots_;
  std::uint64_t next_seq_ = 0;  // sequence number of the next command
  std::uint64_t head_seq_ = 0;  // the first command whose reply is not in the output yet
  bool processing_ = false;
  bool closing_ = false;
  bool in_transaction_ = false;
  std::optional<User> user_;
  std::function<void()> wakeup_;
};

// A handle to one command's place in its connection's output; Send exactly once.
class RespReply {
 public:
  RespReply(std::shared_ptr<RespConnection> connection, std::uint64_t seq)
      : connection_(std::move(connection)), seq_(seq) {}

  // Appends the reply: `append(std::string& out)` encodes it (see resp_writer.h).
  template <typename Append>
  void Send(Append&& append) {
    std::string& out = connection_->BeginReply(seq_);
    append(out);
    connection_->EndReply(seq_);
  }
  RespConnection& connection() const { return *connection_; }

 private:
  std::shared_ptr<RespConnection> connection_;
  std::uint64_t seq_;
};

}  // namespace meridian::api
