#include "proxy/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace portcullis::proxy {
namespace {

namespace fs = std::filesystem;

class AccessLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("portcullis-access-log-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<AccessLog> open(AccessLog::Options options) {
    auto log = AccessLog::open(std::move(options));
    EXPECT_TRUE(log) << log.error().message();
    return log ? std::move(log.value()) : nullptr;
  }

  static std::vector<std::string> lines(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static AccessRecord record(uint16_t port, std::string_view target = "/") {
    AccessRecord r;
    r.time = std::chrono::system_clock::now();
    r.verdict = AccessVerdict::kDenied;
    r.source = {*IpAddress::parse("198.18.1.2"), port};
    r.destination = {*IpAddress::parse("198.18.2.2"), 80};
    r.http = {"GET", "example.test", target, 403, 17, std::chrono::microseconds(3)};
    return r;
  }

  fs::path dir_;
};

TEST_F(AccessLogTest, WritesOneLinePerRecordInOrderPerThread) {
  const fs::path file = dir_ / "access.log";
  auto log = open({.path = file});
  log->start();
  for (uint16_t i = 1; i <= 100; ++i) log->log(record(i));
  log->flush();
  const auto got = lines(file);
  ASSERT_EQ(got.size(), 100u);
  for (uint16_t i = 1; i <= 100; ++i) {
    EXPECT_NE(got[i - 1].find("\"port\":" + std::to_string(i) + "}"), std::string::npos) << got[i - 1];
  }
  EXPECT_EQ(log->written(), 100u);
  EXPECT_EQ(log->dropped(), 0u);
}

TEST_F(AccessLogTest, AppendsToAnExistingFile) {
  const fs::path file = dir_ / "access.log";
  std::ofstream(file) << "earlier\n";
  auto log = open({.path = file});
  log->start();
  log->log(record(1));
  log->stop();
  const auto got = lines(file);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "earlier");
}

TEST_F(AccessLogTest, OpenNamesTheFailure) {
  auto log = AccessLog::open({.path = (dir_ / "missing" / "access.log").string()});
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error(), std::errc::no_such_file_or_directory);
}

TEST_F(AccessLogTest, FullQueueDropsAndCountsInsteadOfBlocking) {
  const fs::path file = dir_ / "access.log";
  // One shard of 4 KiB and no writer yet: the queue fills and the rest must be dropped.
  auto log = open({.path = file, .max_buffered_bytes = 4096, .shards = 1});
  std::string line;
  appendAccessJson(record(1), line);
  const size_t fit = 4096 / line.size();
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) log->log(record(1));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_EQ(log->dropped(), 1000 - fit);
  log->start();
  log->stop();  // writes what was queued
  EXPECT_EQ(lines(file).size(), fit);
  EXPECT_EQ(log->written(), fit);
  log->log(record(2));  // after stop: dropped, counted
  EXPECT_EQ(log->dropped(), 1000 - fit + 1);
}

TEST_F(AccessLogTest, StopFlushesEverythingQueued) {
  const fs::path file = dir_ / "access.log";
  auto log = open({.path = file, .flush_interval = std::chrono::hours(1)});
  log->start();
  for (int i = 0; i < 10; ++i) log->log(record(7));
  log->stop();
  EXPECT_EQ(lines(file).size(), 10u);
}

TEST_F(AccessLogTest, ReopenAfterRenameWritesToTheNewFile) {
  const fs::path file = dir_ / "access.log";
  const fs::path rotated = dir_ / "access.log.1";
  auto log = open({.path = file});
  log->start();
  log->log(record(1));
  log->flush();
  fs::rename(file, rotated);  // logrotate's default: rename, then signal
  log->log(record(2));        // still queued for the old file descriptor...
  log->reopen();              // ...but the reopen comes first in the writer's next batch
  log->flush();
  log->log(record(3));
  log->stop();
  const auto old_lines = lines(rotated);
  const auto new_lines = lines(file);
  ASSERT_EQ(old_lines.size(), 1u);
  EXPECT_NE(old_lines[0].find("\"port\":1}"), std::string::npos);
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_NE(new_lines[0].find("\"port\":2}"), std::string::npos);
  EXPECT_NE(new_lines[1].find("\"port\":3}"), std::string::npos);
  EXPECT_EQ(log->reopens(), 1u);
}

TEST_F(AccessLogTest, ManyThreadsLoseNothingWithinTheBound) {
  const fs::path file = dir_ / "access.log";
  auto log = open({.path = file});
  log->start();
  constexpr int kThreads = 4;
  // 1000 records of ~320 bytes fit in one shard's 512 KiB: none may be dropped, however late
  // the writer runs.
  constexpr int kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) log->log(record(static_cast<uint16_t>(t + 1), "/x\"y"));
    });
  }
  for (auto& t : threads) t.join();
  log->stop();
  const auto got = lines(file);
  EXPECT_EQ(got.size() + log->dropped(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(log->dropped(), 0u);
  for (const auto& line : got) {
    ASSERT_EQ(line.front(), '{');  // no two records interleaved within a line
    ASSERT_EQ(line.back(), '}');
  }
}

TEST_F(AccessLogTest, WriteErrorsDropTheBatchAndCount) {
  // /dev/full fails every write with ENOSPC.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto log = open({.path = "/dev/full"});
  log->start();
  log->log(record(1));
  log->log(record(2));
  log->flush();
  EXPECT_EQ(log->written(), 0u);
  EXPECT_EQ(log->dropped(), 2u);
  EXPECT_GE(log->writeErrors(), 1u);
}

}  // namespace
}  // namespace portcullis::proxy
