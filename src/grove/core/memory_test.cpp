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
  // The budget is named as --ram-mb gives it.
  EXPECT_NE(refused.error().message().find("memory budget of 64 MB (--ram-mb"), std::string::npos)
      << refused.error().message();
  // An overflowed size (negative) is refused too.
  EXPECT_FALSE(check_file_allocation(-1, "x").ok());
  set_file_allocation_limit(0);
  EXPECT_EQ(file_allocation_limit(), system_memory_bytes() / 2);
  Status default_refused = check_file_allocation(system_memory_bytes(), "x");
  ASSERT_FALSE(default_refused.ok());
  EXPECT_NE(default_refused.error().message().find("half the RAM"), std::string::npos)
      << default_refused.error().message();
}

}  // namespace
}  // namespace grove
