// Conditional writes in an eventual bucket (node/write_condition_check.h): checked by the
// coordinating primary against its own copy, in the same step as the write; a write whose
// condition does not hold changes nothing.
#include <gtest/gtest.h>

#include "node/node_test_util.h"

namespace meridian::node {
namespace {

using test_support::NodeFixture;

class ConditionalWriteTest : public NodeFixture {
 protected:
  ClientReply PutIf(const std::string& key, const std::string& value, WriteCondition condition,
                    const std::string& context = "") {
    PutRequest put{{"b", key}, value, context, {}};
    put.condition = condition;
    return Call(std::move(put));
  }
  ClientReply DeleteIf(const std::string& key, WriteCondition condition,
                       const std::string& context = "") {
    DeleteRequest del{{"b", key}, context, {}};
    del.condition = condition;
    return Call(std::move(del));
  }
  std::vector<std::string> Values(const std::string& key) {
    std::vector<std::string> values;
    for (const SiblingValue& sibling : Get(key).values) values.push_back(sibling.value);
    return values;
  }
};

TEST_F(ConditionalWriteTest, IfAbsentCreatesOnceAndAgainAfterADelete) {
  ASSERT_TRUE(PutIf("k", "v1", WriteCondition::kIfAbsent).status.ok());
  ClientReply again = PutIf("k", "v2", WriteCondition::kIfAbsent);
  EXPECT_EQ(again.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status.message().find("the key exists"), std::string::npos);
  EXPECT_EQ(Values("k"), std::vector<std::string>{"v1"});

  Delete("k");
  ASSERT_TRUE(PutIf("k", "v3", WriteCondition::kIfAbsent).status.ok());
  EXPECT_EQ(Values("k"), std::vector<std::string>{"v3"});
}

TEST_F(ConditionalWriteTest, IfMatchWritesOnlyOverTheExactVersion) {
  const WriteReply first = Put("k", "v1");
  const std::string context = Get("k").context;
  ClientReply swapped = PutIf("k", "v2", WriteCondition::kIfMatch, context);
  ASSERT_TRUE(swapped.status.ok()) << swapped.status.ToString();
  EXPECT_EQ(Values("k"), std::vector<std::string>{"v2"});

  // The context of the first version no longer matches: refused, nothing written.
  ClientReply stale = PutIf("k", "v3", WriteCondition::kIfMatch, context);
  EXPECT_EQ(stale.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status.message().find("does not hold"), std::string::npos);
  ClientReply stale_delete = DeleteIf("k", WriteCondition::kIfMatch, first.context);
  EXPECT_EQ(stale_delete.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Values("k"), std::vector<std::string>{"v2"});

  // A token that is not a context of this key is a bad request.
  EXPECT_EQ(PutIf("k", "v4", WriteCondition::kIfMatch, "garbage").status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PutIf("k", "v4", WriteCondition::kIfMatch, "").status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Values("k"), std::vector<std::string>{"v2"});

  // The current context deletes.
  ASSERT_TRUE(DeleteIf("k", WriteCondition::kIfMatch, Get("k").context).status.ok());
  EXPECT_FALSE(Get("k").found);
}

TEST_F(ConditionalWriteTest, IfMatchOverSiblingsResolvesThem) {
  Put("k", "a");
  Put("k", "b");  // blind: a sibling
  ASSERT_EQ(Values("k").size(), 2u);
  const std::string both = Get("k").context;
  ASSERT_TRUE(PutIf("k", "merged", WriteCondition::kIfMatch, both).status.ok());
  EXPECT_EQ(Values("k"), std::vector<std::string>{"merged"});
}

TEST_F(ConditionalWriteTest, IfPresentNeedsALiveValueAndSupersedesIt) {
  ClientReply missing = PutIf("k", "v1", WriteCondition::kIfPresent);
  EXPECT_EQ(missing.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(Get("k").found);
  EXPECT_EQ(Get("k").context, "");  // no history was written

  Put("k", "a");
  Put("k", "b");  // siblings
  ASSERT_TRUE(PutIf("k", "c", WriteCondition::kIfPresent).status.ok());
  EXPECT_EQ(Values("k"), std::vector<std::string>{"c"});

  Delete("k");
  EXPECT_EQ(DeleteIf("k", WriteCondition::kIfPresent).status.code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace meridian::node
