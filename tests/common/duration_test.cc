#include "common/duration.h"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(parseDuration("250ms"), Duration(250));
  EXPECT_EQ(parseDuration("10s"), Duration(10'000));
  EXPECT_EQ(parseDuration("5m"), Duration(300'000));
  EXPECT_EQ(parseDuration("1h"), Duration(3'600'000));
  EXPECT_EQ(parseDuration("0s"), Duration(0));
}

TEST(Duration, RejectsMalformed) {
  for (const char* bad : {"", "10", "s", "-1s", "1.5s", "10 s", "10sec", "99999999999999999999h"}) {
    EXPECT_FALSE(parseDuration(bad)) << bad;
  }
}

TEST(Duration, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(Duration(300'000)), "5m");
  EXPECT_EQ(formatDuration(Duration(10'000)), "10s");
  EXPECT_EQ(formatDuration(Duration(1500)), "1500ms");
}

}  // namespace
}  // namespace portcullis
