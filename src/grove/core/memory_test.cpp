#include "grove/core/memory.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

TEST(FileAllocationLimit, DefaultsToHalfTheMemoryAndFollowsTheBudget) {
  EXPECT_EQ(file_allocation_limit(), system_memory_bytes() / 2);
  set_file_allocation_limit(int64_t{64} << 20);
  EXPECT_EQ(file_allocation_limit(), int64_t{64} << 20);
  EXPECT_TRUE(check_file_allocation(int64_t{64} << 20, "a block").ok());
  Status refused = check_file_allocation((int64_t{64} << 20) + 1, "the labels of x.h5");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.error().message().find("the labels of x.h5"), std::string::npos);
  // An overflowed size (negative) is refused too.
  EXPECT_FALSE(check_file_allocation(-1, "x").ok());
  set_file_allocation_limit(0);
  EXPECT_EQ(file_allocation_limit(), system_memory_bytes() / 2);
}

}  // namespace
}  // namespace grove
