#include "api/resp_connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "api/resp_commands.h"
#include "api/resp_writer.h"
#include "core/assert.h"

namespace meridian::api {

namespace {

// Buffers that grew past this (a large value) are released once empty rather than kept.
constexpr std::size_t kRetainedBufferBytesMax = 256u << 10;
constexpr std::size_t kInitialInputBytes = 16u << 10;

}  // namespace

RespConnection::RespConnection(std::shared_ptr<RespCommands> commands,
                               const RespConnectionLimits& limits, std::uint64_t id)
    : commands_(std::move(commands)),
      limits_(limits),
      id_(id),
      parser_(limits.parser),
      slots_(std::max<std::size_t>(1, limits.pipeline_max)) {
  limits_.pipeline_max = slots_.size();
}

std::span<char> RespConnection::InputSpace(std::size_t bytes) {
  if (input_start_ == input_end_) {
    input_start_ = input_end_ = 0;
    if (input_.size() > kRetainedBufferBytesMax) std::vector<char>().swap(input_);
  }
  if (input_.size() - input_end_ < bytes && input_start_ > 0) {
    // Move the pending (partial) command to the front; the parser's progress is relative to
    // its first byte, so it stays valid.
    std::memmove(input_.data(), input_.data() + input_start_, input_end_ - input_start_);
    input_end_ -= input_start_;
    input_start_ = 0;
  }
  if (input_.size() - input_end_ < bytes) {
    input_.resize(std::max({input_.size() * 2, input_end_ + bytes, kInitialInputBytes}));
  }
  return {input_.data() + input_end_, input_.size() - input_end_};
}

void RespConnection::CommitInput(std::size_t bytes) {
  MERIDIAN_DCHECK(input_end_ + bytes <= input_.size());
  input_end_ += bytes;
}

bool RespConnection::WantsInput() const {
  return !closing_ && in_flight() < limits_.pipeline_max &&
         output_.size() < limits_.output_bytes_max;
}

void RespConnection::Process() {
  if (processing_) return;
  processing_ = true;
  while (!closing_ && in_flight() < limits_.pipeline_max &&
         output_.size() < limits_.output_bytes_max) {
    const std::string_view input(input_.data() + input_start_, input_end_ - input_start_);
    const RespParser::Outcome outcome = parser_.Parse(input);
    if (outcome == RespParser::Outcome::kNeedMore) break;
    if (outcome == RespParser::Outcome::kError) {
      commands_->ProtocolError(parser_.error(), RespReply(shared_from_this(), next_seq_++));
      Close();
      break;
    }
    if (!parser_.args().empty()) {
      // Arguments view the input buffer: consume only after the command has run.
      commands_->Execute(parser_.args(), RespReply(shared_from_this(), next_seq_++));
      if (closing_) break;  // QUIT: Close() dropped the rest of the input
    }
    input_start_ += parser_.consumed();
  }
  if (input_start_ == input_end_) input_start_ = input_end_ = 0;
  processing_ = false;
}

void RespConnection::TakeOutput(std::string& into) {
  into.clear();
  if (into.capacity() > kRetainedBufferBytesMax) std::string().swap(into);
  output_.swap(into);
}

void RespConnection::Refuse(std::string_view message) {
  if (closing_) return;
  RespReply reply(shared_from_this(), next_seq_++);
  reply.Send([message](std::string& out) { resp::AppendError(out, message); });
  Close();
  std::vector<char>().swap(input_);  // its bytes are no longer wanted
}

void RespConnection::Close() {
  closing_ = true;
  input_start_ = input_end_ = 0;
}

std::string& RespConnection::BeginReply(std::uint64_t seq) {
  MERIDIAN_DCHECK(seq >= head_seq_ && seq < next_seq_);
  if (seq == head_seq_) return output_;
  Slot& slot = SlotFor(seq);
  MERIDIAN_DCHECK(!slot.ready);
  slot.bytes.clear();
  return slot.bytes;
}

void RespConnection::EndReply(std::uint64_t seq) {
  if (seq == head_seq_) {
    ++head_seq_;
    DrainSlots();
  } else {
    SlotFor(seq).ready = true;
  }
  if (!processing_ && wakeup_) wakeup_();
}

void RespConnection::DrainSlots() {
  while (head_seq_ < next_seq_) {
    Slot& slot = SlotFor(head_seq_);
    if (!slot.ready) return;
    output_.append(slot.bytes);
    slot.ready = false;
    if (slot.bytes.capacity() > kRetainedBufferBytesMax) {
      std::string().swap(slot.bytes);
    } else {
      slot.bytes.clear();
    }
    ++head_seq_;
  }
}

}  // namespace meridian::api
