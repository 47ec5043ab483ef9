// The client library against the real `meridian serve` binary: binary round trips,
// siblings and their resolution with the context, deletes, bucket properties, error
// mapping, and HTTPS with a self-signed certificate verified as its own CA.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "client/server_process.h"
#include "meridian/client.h"

namespace meridian::client {
namespace {

using testing::ServerProcess;

std::string AllByteValues() {
  std::string bytes;
  for (int byte = 0; byte < 256; ++byte) bytes.push_back(static_cast<char>(byte));
  return bytes;
}

class ClientServerTest : public ::testing::Test {
 protected:
  void StartServer(const std::vector<std::string>& arguments = {}) {
    std::string error;
    server_ = ServerProcess::Start(arguments, error);
    ASSERT_NE(server_, nullptr) << error;
    ClientOptions options;
    options.endpoint = server_->HttpUrl();
    auto client = Client::Create(options);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = std::move(client).value();
  }

  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "server log:\n" << server_->Log();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientServerTest, BinaryKeysAndValuesRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string bytes = AllByteValues();
  for (const std::string& key : {bytes, std::string("a/b%2F c?#"), std::string(1, '\0')}) {
    auto put = client_->Put("bin", key, bytes);
    ASSERT_TRUE(put.ok()) << put.error().ToString();
    auto get = client_->Get("bin", key);
    ASSERT_TRUE(get.ok()) << get.error().ToString();
    ASSERT_TRUE(get->found);
    ASSERT_EQ(get->siblings.size(), 1u);
    EXPECT_EQ(get->siblings[0].value, bytes);
    EXPECT_FALSE(get->context.empty());
  }
  ASSERT_TRUE(client_->Put("empty", "").ok());
  auto empty = client_->Get("empty");
  ASSERT_TRUE(empty.ok()) << empty.error().ToString();
  ASSERT_TRUE(empty->found);
  ASSERT_EQ(empty->siblings.size(), 1u);
  EXPECT_EQ(empty->siblings[0].value, "");
}

TEST_F(ClientServerTest, MissingKeyIsFoundFalse) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto get = client_->Get("never-written");
  ASSERT_TRUE(get.ok()) << get.error().ToString();
  EXPECT_FALSE(get->found);
  EXPECT_TRUE(get->siblings.empty());
}

TEST_F(ClientServerTest, BlindWritesBecomeSiblingsResolvedByTheContext) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string binary_value = std::string("\0\xff\x01", 3);
  ASSERT_TRUE(client_->Put("k", "first").ok());
  ASSERT_TRUE(client_->Put("k", binary_value).ok());
  auto get = client_->Get("k");
  ASSERT_TRUE(get.ok()) << get.error().ToString();
  ASSERT_EQ(get->siblings.size(), 2u);
  std::vector<std::string> values;
  for (const auto& sibling : get->siblings) {
    values.push_back(sibling.value);
    EXPECT_GT(sibling.timestamp_ms, 0);
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::string>{binary_value, "first"}));

  PutOptions resolve;
  resolve.context = get->context;
  auto resolved = client_->Put("k", "merged", resolve);
  ASSERT_TRUE(resolved.ok()) << resolved.error().ToString();
  EXPECT_FALSE(resolved->context.empty());
  auto after = client_->Get("k");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->siblings.size(), 1u);
  EXPECT_EQ(after->siblings[0].value, "merged");
}

TEST_F(ClientServerTest, WriteContextOverwritesOwnWrite) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto first = client_->Put("k", "v1");
  ASSERT_TRUE(first.ok());
  PutOptions next;
  next.context = first->context;
  next.durable_write = true;
  auto second = client_->Put("k", "v2", next);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_TRUE(second->durable);
  ASSERT_TRUE(second->consistency.has_value());
  EXPECT_EQ(second->consistency->n, 1u);
  EXPECT_EQ(second->consistency->required, 1u);
  EXPECT_EQ(second->consistency->replies, 1u);
  EXPECT_EQ(second->consistency->durable, 1u);
  auto get = client_->Get("k");
  ASSERT_TRUE(get.ok());
  ASSERT_EQ(get->siblings.size(), 1u);
  EXPECT_EQ(get->siblings[0].value, "v2");
}

TEST_F(ClientServerTest, QuorumOptionsAndTheConsistencyReceipt) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  PutOptions one;
  one.w = "one";
  one.pw = "0";
  one.dw = "all";
  one.sloppy_quorum = false;
  auto put = client_->Put("q", "v", one);
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  ASSERT_TRUE(put->consistency.has_value());
  EXPECT_EQ(*put->consistency, (Consistency{1, 1, 1, 1, 0, 1, 0, 0}));

  GetOptions read;
  read.r = "all";
  read.pr = "1";
  auto get = client_->Get("default", "q", read);
  ASSERT_TRUE(get.ok()) << get.error().ToString();
  ASSERT_TRUE(get->consistency.has_value());
  EXPECT_EQ(*get->consistency, (Consistency{1, 1, 1, 1, 0, 0, 0, 0}));

  auto missing = client_->Get("default", "never", read);
  ASSERT_TRUE(missing.ok()) << missing.error().ToString();
  EXPECT_FALSE(missing->found);
  ASSERT_TRUE(missing->consistency.has_value());
  EXPECT_EQ(missing->consistency->n, 1u);

  auto deleted = client_->Delete("q");
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  ASSERT_TRUE(deleted->consistency.has_value());
  EXPECT_EQ(deleted->consistency->required, 1u);

  // One node: the key has one replica, so w=2 cannot be met.
  PutOptions two;
  two.w = "2";
  auto refused = client_->Put("q", "v", two);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(refused.error().server_code, "invalid_parameter");
  EXPECT_NE(refused.error().message.find("exceeds"), std::string::npos) << refused.error().message;

  // Checked before sending.
  GetOptions bad;
  bad.r = "most";
  EXPECT_EQ(client_->Get("default", "q", bad).error().code, ErrorCode::kInvalidArgument);
  PutOptions both;
  both.dw = "1";
  both.durable_write = true;
  EXPECT_EQ(client_->Put("q", "v", both).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ClientServerTest, DeleteThenWriteAfterDelete) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_TRUE(client_->Put("k", "v").ok());
  auto deleted = client_->Delete("k");
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  auto get = client_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_FALSE(get->found);
  EXPECT_FALSE(get->context.empty()) << "a deleted key keeps its history";
  PutOptions over_tombstone;
  over_tombstone.context = get->context;
  ASSERT_TRUE(client_->Put("k", "again", over_tombstone).ok());
  auto again = client_->Get("k");
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->siblings.size(), 1u);
  EXPECT_EQ(again->siblings[0].value, "again");
  EXPECT_TRUE(client_->Delete("never-written").ok());
}

// Compare-and-set with WriteOptions::condition, in an eventual and in a strong bucket: the
// same calls, the same kPreconditionFailed when the condition does not hold.
TEST_F(ClientServerTest, ConditionalWritesInEventualAndStrongBuckets) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  BucketPropsUpdate strong;
  strong.consistency = "strong";
  auto made = client_->SetBucketProps("ledger", strong);
  ASSERT_TRUE(made.ok()) << made.error().ToString();
  ASSERT_EQ(made->consistency, "strong");
  for (const std::string bucket : {"default", "ledger"}) {
    SCOPED_TRACE(bucket);
    PutOptions create;
    create.condition = PutOptions::Condition::kIfAbsent;
    auto created = client_->Put(bucket, "k", "v1", create);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    auto again = client_->Put(bucket, "k", "v2", create);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kPreconditionFailed);
    EXPECT_EQ(again.error().http_status, 412);

    auto read = client_->Get(bucket, "k");
    ASSERT_TRUE(read.ok());
    PutOptions swap;
    swap.condition = PutOptions::Condition::kIfMatch;
    swap.context = read->context;
    auto swapped = client_->Put(bucket, "k", "v3", swap);
    ASSERT_TRUE(swapped.ok()) << swapped.error().ToString();
    auto stale = client_->Put(bucket, "k", "v4", swap);  // the same, now stale, context
    ASSERT_FALSE(stale.ok());
    EXPECT_EQ(stale.error().code, ErrorCode::kPreconditionFailed);
    auto now = client_->Get(bucket, "k");
    ASSERT_TRUE(now.ok());
    ASSERT_EQ(now->siblings.size(), 1u);
    EXPECT_EQ(now->siblings[0].value, "v3");

    DeleteOptions only_if_present;
    only_if_present.condition = DeleteOptions::Condition::kIfPresent;
    ASSERT_TRUE(client_->Delete(bucket, "k", only_if_present).ok());
    auto gone = client_->Delete(bucket, "k", only_if_present);
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code, ErrorCode::kPreconditionFailed);

    PutOptions no_context;
    no_context.condition = PutOptions::Condition::kIfMatch;
    auto refused = client_->Put(bucket, "k", "v5", no_context);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(ClientServerTest, BucketPropsAndLastWriterWins) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto defaults = client_->GetBucketProps("fresh");
  ASSERT_TRUE(defaults.ok()) << defaults.error().ToString();
  EXPECT_EQ(defaults->conflict_policy, "siblings");
  EXPECT_EQ(defaults->n, 3u);
  EXPECT_EQ(defaults->r, "quorum");
  EXPECT_EQ(defaults->w, "quorum");
  EXPECT_EQ(defaults->pr, "0");
  EXPECT_EQ(defaults->pw, "0");
  EXPECT_EQ(defaults->dw, "0");
  EXPECT_TRUE(defaults->sloppy_quorum);

  BucketPropsUpdate lww;
  lww.conflict_policy = "lww";
  auto changed = client_->SetBucketProps("fresh", lww);
  ASSERT_TRUE(changed.ok()) << changed.error().ToString();
  EXPECT_EQ(changed->conflict_policy, "lww");
  EXPECT_EQ(changed->dw, "0");

  BucketPropsUpdate invalid;
  invalid.r = "4";  // above n=3
  auto rejected = client_->SetBucketProps("fresh", invalid);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(rejected.error().http_status, 400);
  EXPECT_EQ(rejected.error().server_code, "invalid_props");
  auto unchanged = client_->GetBucketProps("fresh");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->conflict_policy, "lww");
  EXPECT_EQ(unchanged->r, "quorum");

  // n may not be raised above the cluster's members (one here); lowering it is fine.
  BucketPropsUpdate too_many;
  too_many.n = 2;
  auto too_many_refused = client_->SetBucketProps("fresh", too_many);
  ASSERT_FALSE(too_many_refused.ok());
  EXPECT_EQ(too_many_refused.error().server_code, "invalid_props");

  BucketPropsUpdate quorum;
  quorum.n = 1;
  quorum.r = "one";
  quorum.w = "all";
  quorum.sloppy_quorum = false;
  auto quorum_changed = client_->SetBucketProps("fresh", quorum);
  ASSERT_TRUE(quorum_changed.ok()) << quorum_changed.error().ToString();
  EXPECT_EQ(quorum_changed->n, 1u);
  EXPECT_EQ(quorum_changed->r, "one");
  EXPECT_EQ(quorum_changed->w, "all");
  EXPECT_FALSE(quorum_changed->sloppy_quorum);
  quorum = {};
  quorum.w = "quorum";
  quorum.r = "quorum";
  quorum.sloppy_quorum = true;
  ASSERT_TRUE(client_->SetBucketProps("fresh", quorum).ok());

  BucketPropsUpdate not_quorum_text;
  not_quorum_text.w = "most";
  auto refused = client_->SetBucketProps("fresh", not_quorum_text);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);

  ASSERT_TRUE(client_->Put("fresh", "k", "older").ok());
  ASSERT_TRUE(client_->Put("fresh", "k", "newer").ok());
  auto get = client_->Get("fresh", "k");
  ASSERT_TRUE(get.ok());
  ASSERT_EQ(get->siblings.size(), 1u) << "lww keeps one value";
  EXPECT_EQ(get->siblings[0].value, "newer");
}

TEST_F(ClientServerTest, ServerErrorsMapToErrors) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--key-bytes-max", "16", "--value-bytes-max", "64"}));
  auto key_too_large = client_->Put(std::string(17, 'k'), "v");
  ASSERT_FALSE(key_too_large.ok());
  EXPECT_EQ(key_too_large.error().code, ErrorCode::kTooLarge);
  EXPECT_EQ(key_too_large.error().http_status, 413);
  EXPECT_EQ(key_too_large.error().server_code, "key_too_large");
  EXPECT_FALSE(key_too_large.error().retryable);

  auto value_too_large = client_->Put("k", std::string(65, 'v'));
  ASSERT_FALSE(value_too_large.ok());
  EXPECT_EQ(value_too_large.error().http_status, 413);
  EXPECT_EQ(value_too_large.error().server_code, "value_too_large");

  auto get_too_large = client_->Get(std::string(17, 'k'));
  ASSERT_FALSE(get_too_large.ok());
  EXPECT_EQ(get_too_large.error().http_status, 413);

  PutOptions bad_context;
  bad_context.context = "definitely-not-a-context";
  auto invalid_context = client_->Put("k", "v", bad_context);
  ASSERT_FALSE(invalid_context.ok());
  EXPECT_EQ(invalid_context.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(invalid_context.error().server_code, "invalid_context");

  // None of the rejected writes changed anything.
  auto get = client_->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_FALSE(get->found);
  EXPECT_TRUE(client_->Health().ok());
}

TEST_F(ClientServerTest, HttpsVerifiedAgainstSelfSignedCertificate) {
  testing::TemporaryDirectory certificates;
  ASSERT_TRUE(testing::MakeSelfSignedCertificate(certificates.path()));
  const std::string cert = certificates.path() + "/cert.pem";
  ASSERT_NO_FATAL_FAILURE(StartServer({"--https", "127.0.0.1:0", "--tls-cert", cert, "--tls-key",
                                       certificates.path() + "/key.pem"}));
  ASSERT_GT(server_->https_port(), 0);

  for (const std::string& url :
       {server_->HttpsUrl(), "https://localhost:" + std::to_string(server_->https_port())}) {
    ClientOptions options;
    options.endpoint = url;
    options.ca_file = cert;
    auto client = Client::Create(options);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    const std::string bytes = AllByteValues();
    auto put = (*client)->Put("tls", url, bytes);  // one key per endpoint
    ASSERT_TRUE(put.ok()) << url << ": " << put.error().ToString();
    auto get = (*client)->Get("tls", url);
    ASSERT_TRUE(get.ok()) << get.error().ToString();
    ASSERT_EQ(get->siblings.size(), 1u);
    EXPECT_EQ(get->siblings[0].value, bytes);
  }

  ClientOptions untrusted;
  untrusted.endpoint = server_->HttpsUrl();
  auto untrusted_client = Client::Create(untrusted);
  ASSERT_TRUE(untrusted_client.ok());
  auto refused = (*untrusted_client)->Health();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTlsError);

  ClientOptions unverified;
  unverified.endpoint = server_->HttpsUrl();
  unverified.verify_peer = false;
  auto unverified_client = Client::Create(unverified);
  ASSERT_TRUE(unverified_client.ok());
  EXPECT_TRUE((*unverified_client)->Health().ok());
}

TEST_F(ClientServerTest, ClusterStatusAndRingOfAStandaloneServer) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer({"--name", "solo", "--zone", "z1", "--weight", "2", "--partition-count", "16"}));
  auto status = client_->ClusterStatus();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(status->self, "solo");
  EXPECT_EQ(status->claimant, "solo");
  EXPECT_FALSE(status->cluster_name.empty());
  EXPECT_EQ(status->partition_count, 16u);
  ASSERT_EQ(status->members.size(), 1u);
  const ClusterMember& member = status->members[0];
  EXPECT_EQ(member.id, "solo");
  EXPECT_EQ(member.zone, "z1");
  EXPECT_EQ(member.weight, 2u);
  EXPECT_EQ(member.status, "up");
  EXPECT_TRUE(member.alive);
  EXPECT_EQ(member.peer_address, "");
  EXPECT_EQ(member.partitions_owned, 16u);
  EXPECT_EQ(member.partitions_incoming, 0u);
  EXPECT_NE(status->json.find("\"cluster_name\""), std::string::npos);

  auto ring = client_->ClusterRing(/*partitions=*/true);
  ASSERT_TRUE(ring.ok()) << ring.error().ToString();
  EXPECT_EQ(ring->partition_count, 16u);
  EXPECT_EQ(ring->version, status->ring_version);
  ASSERT_EQ(ring->partitions.size(), 16u);
  for (std::uint32_t partition = 0; partition < 16; ++partition) {
    EXPECT_EQ(ring->partitions[partition].partition, partition);
    EXPECT_EQ(ring->partitions[partition].owner, "solo");
  }
  auto ring_without_partitions = client_->ClusterRing();
  ASSERT_TRUE(ring_without_partitions.ok()) << ring_without_partitions.error().ToString();
  EXPECT_TRUE(ring_without_partitions->partitions.empty());

  // A standalone node refuses membership changes; the client checks arguments first.
  auto join = client_->ClusterJoin({"127.0.0.1:1"});
  ASSERT_FALSE(join.ok());
  EXPECT_EQ(join.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(join.error().server_code, "invalid_argument");
  EXPECT_NE(join.error().message.find("standalone"), std::string::npos);
  auto leave = client_->ClusterLeave();
  ASSERT_FALSE(leave.ok());
  EXPECT_EQ(leave.error().server_code, "invalid_argument");
  EXPECT_EQ(client_->ClusterJoin({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->ClusterRemove("").error().code, ErrorCode::kInvalidArgument);
  auto zero_weight = client_->ClusterSetWeight("solo", 0);
  ASSERT_FALSE(zero_weight.ok());
  EXPECT_EQ(zero_weight.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(zero_weight.error().http_status, 0) << "rejected before sending";
}

TEST_F(ClientServerTest, ClusterLocateAndLocalOfAStandaloneServer) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--name", "solo", "--partition-count", "16"}));
  const std::string key("k/\xff", 3);
  ASSERT_TRUE(client_->Put("b", key, "one").ok());
  ASSERT_TRUE(client_->Put("b", key, std::string("two\0", 4)).ok());  // blind: a sibling

  auto location = client_->ClusterLocate("b", key);
  ASSERT_TRUE(location.ok()) << location.error().ToString();
  EXPECT_EQ(location->bucket, "b");
  EXPECT_LT(location->partition, 16u);
  EXPECT_EQ(location->owner, "solo");
  EXPECT_EQ(location->primaries, std::vector<std::string>{"solo"});
  EXPECT_TRUE(location->fallbacks.empty());

  auto copy = client_->ClusterLocal("b", key);
  ASSERT_TRUE(copy.ok()) << copy.error().ToString();
  EXPECT_EQ(copy->node, "solo");
  EXPECT_EQ(copy->partition, location->partition);
  EXPECT_TRUE(copy->holds_replica);
  ASSERT_TRUE(copy->object.has_value());
  ASSERT_EQ(copy->object->siblings.size(), 2u);
  EXPECT_EQ(copy->object->siblings[0].value, "one");
  EXPECT_EQ(copy->object->siblings[1].value, std::string("two\0", 4));
  EXPECT_FALSE(copy->hint.has_value());

  auto missing = client_->ClusterLocal("b", "never-written");
  ASSERT_TRUE(missing.ok()) << missing.error().ToString();
  EXPECT_FALSE(missing->object.has_value());
  EXPECT_EQ(client_->ClusterLocate("bad bucket", "k").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->ClusterLocal("b", "").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ClientServerTest, ServerStopsCleanlyOnSigterm) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_TRUE(client_->Health().ok());
  const int status = server_->Stop();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace meridian::client
