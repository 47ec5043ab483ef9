// HandoffReceiver on its own (batches built by hand), and the sender's reactions to the acks
// a receiver can send: errors, stale and foreign acks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "replication/handoff_harness.h"
#include "storage/segment_ordered_memory_engine.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
// The objects column as a node keeps it (segment order), so scans run in its order.
using MemoryEngine = storage::test_support::SegmentOrderedMemoryEngine;

constexpr std::uint32_t kPartition = 3;
constexpr std::uint64_t kIncarnation = 77;

proto::HandoffBatch MakeBatch(std::uint64_t sequence, bool last) {
  proto::HandoffBatch batch;
  batch.set_transfer_id(9);
  batch.set_partition(kPartition);
  batch.set_sequence(sequence);
  batch.set_last(last);
  batch.set_reply_address(std::string(kSourceAddress));
  return batch;
}

void AddEntry(proto::HandoffBatch& batch, const std::string& storage_key, const DvvSet& object) {
  proto::HandoffEntry* entry = batch.add_entries();
  entry->set_storage_key(storage_key);
  entry->set_encoded_object(EncodeObject(object));
}

proto::HandoffAck OnlyAck(HandoffReceiver& receiver, std::string_view expected_address) {
  std::vector<cluster::Outbound> outbound = receiver.TakeOutbound();
  EXPECT_EQ(outbound.size(), 1u);
  if (outbound.empty()) return {};
  EXPECT_EQ(outbound[0].to_address, expected_address);
  EXPECT_TRUE(outbound[0].message.has_handoff_ack());
  return outbound[0].message.handoff_ack();
}

// An engine whose next `failures` writes fail with IoError (nothing applied).
class FailingEngine final : public storage::Engine {
 public:
  explicit FailingEngine(storage::Engine& inner) : inner_(inner) {}
  int failures = 0;

  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override {
    return inner_.Get(column, key);
  }
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
    if (failures > 0) {
      --failures;
      return Status::IoError("disk unhappy");
    }
    return inner_.Write(batch, options);
  }
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, visitor);
  }

 private:
  storage::Engine& inner_;
};

TEST(HandoffReceiverTest, AppliesABatchAndAcknowledgesIt) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch batch = MakeBatch(5, false);
  AddEntry(batch, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  AddEntry(batch, StorageKey(kPartition, "b"), Siblings(kSourceActor, {"b"}));
  receiver.Receive("ephemeral:1", batch, 1000);

  const proto::HandoffAck ack = OnlyAck(receiver, kSourceAddress);
  EXPECT_EQ(ack.transfer_id(), 9u);
  EXPECT_EQ(ack.partition(), kPartition);
  EXPECT_EQ(ack.sequence(), 5u);
  EXPECT_EQ(ack.status_code(), 0u);
  EXPECT_EQ(ack.receiver_incarnation(), kIncarnation);
  EXPECT_EQ(Contents(engine).size(), 2u);
  EXPECT_EQ(receiver.counters().batches_applied, 1u);
  EXPECT_EQ(receiver.counters().objects_changed, 2u);

  const IncomingTransferKey key{std::string(kSourceAddress), 9};
  ASSERT_EQ(receiver.transfers().count(key), 1u);
  const IncomingTransfer& transfer = receiver.transfers().at(key);
  EXPECT_EQ(transfer.partition, kPartition);
  EXPECT_EQ(transfer.batches_applied, 1u);
  EXPECT_EQ(transfer.last_batch_ms, 1000u);
  EXPECT_FALSE(transfer.last_batch_applied);
}

TEST(HandoffReceiverTest, AcknowledgesTheTransportSenderWithoutAReplyAddress) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch batch = MakeBatch(1, true);
  batch.clear_reply_address();
  receiver.Receive("peer:9", batch, 0);
  EXPECT_EQ(OnlyAck(receiver, "peer:9").status_code(), 0u);
}

TEST(HandoffReceiverTest, CorruptEntryRefusesTheWholeBatch) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch batch = MakeBatch(2, true);
  AddEntry(batch, StorageKey(kPartition, "good"), Siblings(kSourceActor, {"good"}));
  proto::HandoffEntry* corrupt = batch.add_entries();
  corrupt->set_storage_key(StorageKey(kPartition, "bad"));
  corrupt->set_encoded_object("not an object");
  receiver.Receive("ephemeral:1", batch, 0);

  const proto::HandoffAck ack = OnlyAck(receiver, kSourceAddress);
  EXPECT_EQ(ack.status_code(), static_cast<std::uint32_t>(StatusCode::kCorruption));
  EXPECT_NE(ack.status_message().find("entry 1"), std::string::npos) << ack.status_message();
  EXPECT_TRUE(Contents(engine).empty());  // not even the good entry
  EXPECT_EQ(receiver.counters().batches_refused, 1u);
}

TEST(HandoffReceiverTest, KeysOutsideTheBatchsPartitionAreRefused) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch batch = MakeBatch(1, false);
  AddEntry(batch, StorageKey(kPartition, "mine"), Siblings(kSourceActor, {"x"}));
  AddEntry(batch, StorageKey(kPartition + 1, "other"), Siblings(kSourceActor, {"x"}));
  receiver.Receive("ephemeral:1", batch, 0);
  EXPECT_EQ(OnlyAck(receiver, kSourceAddress).status_code(),
            static_cast<std::uint32_t>(StatusCode::kCorruption));

  proto::HandoffBatch malformed = MakeBatch(2, false);
  proto::HandoffEntry* entry = malformed.add_entries();
  entry->set_storage_key("xy");  // shorter than an object key's header
  entry->set_encoded_object(EncodeObject(Siblings(kSourceActor, {"x"})));
  receiver.Receive("ephemeral:1", malformed, 0);
  EXPECT_EQ(OnlyAck(receiver, kSourceAddress).status_code(),
            static_cast<std::uint32_t>(StatusCode::kCorruption));
  EXPECT_TRUE(Contents(engine).empty());
}

TEST(HandoffReceiverTest, RepeatedKeysInOneBatchMerge) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  const DvvSet base = Siblings(kSourceActor, {"base"});
  const DvvSet one = Overwritten(base, kSourceActor, "one");
  const DvvSet two = Overwritten(base, kTargetActor, "two");
  proto::HandoffBatch batch = MakeBatch(1, false);
  AddEntry(batch, StorageKey(kPartition, "k"), one);
  AddEntry(batch, StorageKey(kPartition, "k"), two);
  receiver.Receive("ephemeral:1", batch, 0);
  EXPECT_EQ(OnlyAck(receiver, kSourceAddress).status_code(), 0u);
  EXPECT_EQ(Decoded(Contents(engine)[StorageKey(kPartition, "k")]),
            DvvSet::Merge(one, two).value());
}

TEST(HandoffReceiverTest, UnreadableLocalCopyRefusesTheBatch) {
  MemoryEngine engine;
  ASSERT_TRUE(engine.PutRecordUnchecked(StorageKey(kPartition, "k"), "garbage").ok());
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch batch = MakeBatch(1, false);
  AddEntry(batch, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  AddEntry(batch, StorageKey(kPartition, "k"), Siblings(kSourceActor, {"k"}));
  receiver.Receive("ephemeral:1", batch, 0);
  const proto::HandoffAck ack = OnlyAck(receiver, kSourceAddress);
  EXPECT_EQ(ack.status_code(), static_cast<std::uint32_t>(StatusCode::kCorruption));
  EXPECT_NE(ack.status_message().find("local copy"), std::string::npos);
  EXPECT_EQ(Contents(engine).size(), 1u);  // only the garbage it had
}

TEST(HandoffReceiverTest, OnlyTheLastBatchIsSyncedAndItSyncsTheEarlierOnes) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch first = MakeBatch(1, false);
  AddEntry(first, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  receiver.Receive("ephemeral:1", first, 0);
  engine.DropUnsyncedWrites();
  EXPECT_TRUE(Contents(engine).empty());  // acknowledged but not durable (hence incarnations)

  receiver.Receive("ephemeral:1", first, 0);
  proto::HandoffBatch last = MakeBatch(2, true);
  AddEntry(last, StorageKey(kPartition, "b"), Siblings(kSourceActor, {"b"}));
  receiver.Receive("ephemeral:1", last, 0);
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Contents(engine).size(), 2u);
  EXPECT_TRUE(receiver.transfers()
                  .at(IncomingTransferKey{std::string(kSourceAddress), 9})
                  .last_batch_applied);
}

TEST(HandoffReceiverTest, AnEmptyLastBatchStillSyncs) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch first = MakeBatch(1, false);
  AddEntry(first, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  receiver.Receive("ephemeral:1", first, 0);
  receiver.Receive("ephemeral:1", first, 0);  // re-sent: changes nothing
  receiver.Receive("ephemeral:1", MakeBatch(2, true), 0);
  EXPECT_EQ(receiver.counters().objects_changed, 1u);
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Contents(engine).size(), 1u);
}

TEST(HandoffReceiverTest, EngineFailureIsARetryableRefusal) {
  MemoryEngine memory;
  FailingEngine engine(memory);
  engine.failures = 1;
  HandoffReceiver receiver(engine, kIncarnation);
  proto::HandoffBatch batch = MakeBatch(1, true);
  AddEntry(batch, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  receiver.Receive("ephemeral:1", batch, 0);
  EXPECT_EQ(OnlyAck(receiver, kSourceAddress).status_code(),
            static_cast<std::uint32_t>(StatusCode::kIoError));
  receiver.Receive("ephemeral:1", batch, 0);
  EXPECT_EQ(OnlyAck(receiver, kSourceAddress).status_code(), 0u);
}

TEST(HandoffReceiverTest, MirroredObjectsMerge) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  const DvvSet base = Siblings(kSourceActor, {"base"});
  const DvvSet local = Overwritten(base, kTargetActor, "local");
  PutObject(engine, StorageKey(kPartition, "k"), local);
  const DvvSet mirrored = Overwritten(base, kSourceActor, "mirrored");
  ASSERT_TRUE(
      receiver.ApplyMirroredObject(StorageKey(kPartition, "k"), EncodeObject(mirrored)).ok());
  EXPECT_EQ(Decoded(Contents(engine)[StorageKey(kPartition, "k")]),
            DvvSet::Merge(local, mirrored).value());
  // Idempotent.
  ASSERT_TRUE(
      receiver.ApplyMirroredObject(StorageKey(kPartition, "k"), EncodeObject(mirrored)).ok());
  EXPECT_EQ(Decoded(Contents(engine)[StorageKey(kPartition, "k")]).siblings().size(), 2u);

  EXPECT_EQ(receiver.ApplyMirroredObject(StorageKey(kPartition, "j"), "junk").code(),
            StatusCode::kCorruption);
  EXPECT_EQ(receiver.ApplyMirroredObject("xy", EncodeObject(mirrored)).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(receiver.counters().mirrored_objects_applied, 2u);
  EXPECT_EQ(receiver.counters().mirrored_objects_refused, 2u);

  proto::HandoffMirror mirror;
  mirror.set_transfer_id(9);
  mirror.set_partition(kPartition);
  proto::HandoffEntry* bad = mirror.add_entries();
  bad->set_storage_key(StorageKey(kPartition, "bad"));
  bad->set_encoded_object("junk");
  proto::HandoffEntry* good = mirror.add_entries();
  good->set_storage_key(StorageKey(kPartition, "good"));
  good->set_encoded_object(EncodeObject(Siblings(kSourceActor, {"good"})));
  EXPECT_EQ(receiver.Receive(mirror).code(), StatusCode::kCorruption);
  EXPECT_EQ(Contents(engine).count(StorageKey(kPartition, "good")), 1u);  // the rest applied
  EXPECT_TRUE(receiver.TakeOutbound().empty());                           // mirrors: no ack
}

TEST(HandoffReceiverTest, RemembersABoundedNumberOfTransfers) {
  MemoryEngine engine;
  HandoffReceiver receiver(engine, kIncarnation);
  for (std::uint64_t id = 0; id < HandoffReceiver::kTransfersRemembered + 10; ++id) {
    proto::HandoffBatch batch = MakeBatch(1, true);
    batch.set_transfer_id(id);
    receiver.Receive("ephemeral:1", batch, /*now_ms=*/id);
  }
  EXPECT_EQ(receiver.transfers().size(), HandoffReceiver::kTransfersRemembered);
  // The least recently active were forgotten.
  EXPECT_EQ(receiver.transfers().count(IncomingTransferKey{std::string(kSourceAddress), 0}), 0u);
  EXPECT_EQ(receiver.transfers().count(IncomingTransferKey{std::string(kSourceAddress), 73}), 1u);
}

TEST(HandoffSenderAckTest, RetryableRefusalIsRetriedAfterTheTimeout) {
  MemoryEngine source;
  MemoryEngine memory;
  FailingEngine target(memory);
  target.failures = 2;
  PutObject(source, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  HandoffSenderConfig config;
  config.ack_timeout_ms = 50;
  config.retries_max = 2;
  HandoffLoop loop(source, target, kPartition, config);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone) << loop.sender().failure().ToString();
  EXPECT_EQ(loop.sender().progress().retransmissions, 2u);
  EXPECT_GE(loop.now_ms(), 100u);  // each refusal waited the timeout before the retry
  EXPECT_EQ(Contents(memory).size(), 1u);
}

TEST(HandoffSenderAckTest, RetryableRefusalsExhaustTheRetries) {
  MemoryEngine source;
  MemoryEngine memory;
  FailingEngine target(memory);
  target.failures = 100;
  PutObject(source, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  HandoffSenderConfig config;
  config.ack_timeout_ms = 50;
  config.retries_max = 2;
  HandoffLoop loop(source, target, kPartition, config);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kFailed);
  EXPECT_NE(loop.sender().failure().message().find("disk unhappy"), std::string::npos)
      << loop.sender().failure().message();
}

TEST(HandoffSenderAckTest, CorruptionRefusalFailsAtOnce) {
  MemoryEngine source;
  MemoryEngine target;
  ASSERT_TRUE(source.PutRecordUnchecked(StorageKey(kPartition, "k"), "garbage").ok());
  HandoffSenderConfig config;
  HandoffLoop loop(source, target, kPartition, config);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kFailed);
  EXPECT_EQ(loop.sender().failure().code(), StatusCode::kCorruption);
  EXPECT_NE(loop.sender().failure().message().find(std::string(kTargetAddress)), std::string::npos);
  EXPECT_EQ(loop.sender().progress().batches_sent, 1u);
}

TEST(HandoffSenderAckTest, ForeignAndStaleAcksAreIgnored) {
  MemoryEngine source;
  PutObject(source, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  BackgroundGovernor governor(UnlimitedBudget());
  HandoffSender sender(
      HandoffTransfer{
          .transfer_id = 1, .partition = kPartition, .target_address = std::string(kTargetAddress)},
      source, governor);
  sender.Tick(0);
  std::vector<cluster::Outbound> sent = sender.TakeOutbound();
  ASSERT_EQ(sent.size(), 1u);
  const proto::HandoffBatch& batch = sent[0].message.handoff_batch();
  EXPECT_TRUE(batch.last());
  EXPECT_TRUE(batch.reply_address().empty());

  proto::HandoffAck ack;
  ack.set_transfer_id(1);
  ack.set_partition(kPartition);
  ack.set_sequence(batch.sequence() + 1);  // not the batch in flight
  sender.Receive(ack, 1);
  ack.set_sequence(batch.sequence());
  ack.set_transfer_id(2);  // another transfer
  sender.Receive(ack, 1);
  ack.set_transfer_id(1);
  ack.set_partition(kPartition + 1);  // another partition
  sender.Receive(ack, 1);
  EXPECT_EQ(sender.state(), HandoffState::kRunning);
  EXPECT_EQ(sender.NextTickMs(), std::optional<std::uint64_t>(5'000));  // the ack deadline

  ack.set_partition(kPartition);
  sender.Receive(ack, 1);
  EXPECT_EQ(sender.state(), HandoffState::kDone);
  EXPECT_EQ(HandoffStateName(sender.state()), "done");
  sender.Receive(ack, 2);  // a duplicate after the end
  EXPECT_EQ(sender.state(), HandoffState::kDone);
}

}  // namespace
}  // namespace meridian::replication
