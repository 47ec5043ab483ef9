// AbsoluteDirectoryPath: what the offline tools (restore, reshard) name their directories by,
// so that "<dir>.before-...": is a sibling of the directory whatever the spelling given.
#include "runtime/file_sync.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace meridian::runtime {
namespace {

TEST(AbsoluteDirectoryPathTest, DropsATrailingSeparatorAndNormalises) {
  EXPECT_EQ(*AbsoluteDirectoryPath("/var/lib/meridian/", "d"), "/var/lib/meridian");
  EXPECT_EQ(*AbsoluteDirectoryPath("/var/lib/./meridian//", "d"), "/var/lib/meridian");
  EXPECT_EQ(*AbsoluteDirectoryPath("/var/lib/x/../meridian", "d"), "/var/lib/meridian");
  EXPECT_EQ(*AbsoluteDirectoryPath("/", "d"), "/");
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(*AbsoluteDirectoryPath("data/", "d"), cwd + "/data");
}

TEST(AbsoluteDirectoryPathTest, AnEmptyPathIsRefusedByName) {
  Result<std::string> empty = AbsoluteDirectoryPath("", "--data-dir");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "--data-dir is empty");
}

}  // namespace
}  // namespace meridian::runtime
