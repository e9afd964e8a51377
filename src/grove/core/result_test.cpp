#include "grove/core/result.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(ErrorCode::kInvalidArgument, "value {} is not positive", v);
  return v;
}

Result<int> doubled(int v) {
  GROVE_ASSIGN_OR_RETURN(int p, parse_positive(v).context("reading the value"));
  return 2 * p;
}

TEST(Result, ValueAndErrorWithLayeredContext) {
  EXPECT_EQ(*doubled(4), 8);
  auto r = std::move(doubled(-1)).context("doubling");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().to_string(), "doubling: reading the value: value -1 is not positive");
}

Status check(bool good) {
  if (!good) return make_error(ErrorCode::kCorrupt, "bad");
  return ok_status();
}

Status chained(bool good) {
  GROVE_RETURN_IF_ERROR(check(good));
  return ok_status();
}

TEST(Result, StatusPropagates) {
  EXPECT_TRUE(chained(true).ok());
  EXPECT_EQ(chained(false).error().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace grove
