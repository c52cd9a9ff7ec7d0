#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>

#include "app/policy_watch_debounce.h"
#include "app/policy_watch_filter.h"
#include "app/policy_watcher.h"

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = PolicyWatchDebounce::Clock;

class PolicyWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("portcullis-watch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& p, std::string_view text) { std::ofstream(p) << text; }

  fs::path dir_;
};

TEST(PolicyWatchDebounce, SettlesAfterQuietPeriod) {
  PolicyWatchDebounce d(200ms, 2s);
  const Clock::time_point t0{};
  EXPECT_FALSE(d.due(t0));  // nothing pending
  EXPECT_EQ(d.event(t0), t0 + 200ms);
  EXPECT_EQ(d.event(t0 + 100ms), t0 + 300ms);  // a later event moves the deadline
  EXPECT_FALSE(d.due(t0 + 250ms));
  EXPECT_TRUE(d.due(t0 + 300ms));
  EXPECT_FALSE(d.due(t0 + 400ms));  // the burst is over: fires once
  EXPECT_FALSE(d.deadline().has_value());
}

TEST(PolicyWatchDebounce, BoundedByMaxDelayUnderContinuousEvents) {
  PolicyWatchDebounce d(200ms, 1s);
  const Clock::time_point t0{};
  Clock::time_point deadline;
  for (auto t = 0ms; t < 3s; t += 100ms) {
    deadline = d.event(t0 + t);
    if (d.due(t0 + t)) break;
  }
  EXPECT_EQ(deadline, t0 + 1s);
}

TEST_F(PolicyWatchTest, WatchesTheDirectoriesAndOnlyThePolicyNames) {
  write(dir_ / "policy.yaml", "rules: []\n");
  fs::create_directories(dir_ / "more");
  write(dir_ / "more" / "extra.yaml", "rules: []\n");
  const PolicyWatchFilter f({(dir_ / "policy.yaml").string(), (dir_ / "more" / "extra.yaml").string()});
  EXPECT_EQ(f.directories(), (std::set<std::string>{dir_.string(), (dir_ / "more").string()}));
  EXPECT_TRUE(f.relevant(dir_.string(), "policy.yaml"));
  EXPECT_TRUE(f.relevant((dir_ / "more").string(), "extra.yaml"));
  EXPECT_TRUE(f.relevant(dir_.string(), "..data"));  // a ConfigMap swap
  EXPECT_FALSE(f.relevant(dir_.string(), "extra.yaml"));  // another directory's name
  EXPECT_FALSE(f.relevant(dir_.string(), ".policy.yaml.swp"));
  EXPECT_FALSE(f.relevant(dir_.string(), "policy.yaml~"));
  EXPECT_FALSE(f.relevant(dir_.string(), "4913"));  // vim's probe file
}

TEST_F(PolicyWatchTest, FollowsASymlinkToItsTargetDirectory) {
  // A ConfigMap volume: policy.yaml -> ..data/policy.yaml, ..data -> ..2026_11_27_05_00_00.1
  const fs::path data = dir_ / "..2026_11_27_05_00_00.1";
  fs::create_directories(data);
  write(data / "policy.yaml", "rules: []\n");
  fs::create_directory_symlink(data.filename(), dir_ / "..data");
  fs::create_symlink("..data/policy.yaml", dir_ / "policy.yaml");
  const PolicyWatchFilter f({(dir_ / "policy.yaml").string()});
  EXPECT_TRUE(f.directories().count(dir_.string()));
  EXPECT_TRUE(f.directories().count(data.string()));
  EXPECT_TRUE(f.relevant(dir_.string(), "..data"));
  EXPECT_TRUE(f.relevant(data.string(), "policy.yaml"));
}

TEST_F(PolicyWatchTest, SnapshotTellsChangesFromTouches) {
  const std::string file = (dir_ / "policy.yaml").string();
  write(file, "a\n");
  const std::string first = PolicyWatchFilter::snapshot({file});
  write(file, "a\n");
  EXPECT_EQ(PolicyWatchFilter::snapshot({file}), first);
  write(file, "b\n");
  EXPECT_NE(PolicyWatchFilter::snapshot({file}), first);
  fs::remove(file);
  EXPECT_NE(PolicyWatchFilter::snapshot({file}), first);
}

// The real inotify path, on a temporary directory: events are awaited, with a bound.
class PolicyWatcherRun : public PolicyWatchTest {
 protected:
  // Runs io until `changes` reaches `want` or 5 s pass.
  void runUntil(int want) { runFor(5s, want); }
  // Runs io for `limit`, or until `want` changes were seen.
  void runFor(std::chrono::milliseconds limit, int want = INT32_MAX) {
    want_ = want;
    boost::asio::steady_timer timer(io_, limit);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) io_.stop();
    });
    io_.restart();
    io_.run();
  }
  void onChange() {
    if (++changes_ >= want_) io_.stop();
  }

  boost::asio::io_context io_;
  int changes_ = 0;
  int want_ = INT32_MAX;
};

TEST_F(PolicyWatcherRun, RenameOnSaveReloadsOnceAndTouchDoesNot) {
  const fs::path file = dir_ / "policy.yaml";
  write(file, "one\n");
  PolicyWatcher watcher(io_, {file.string()}, [&] { onChange(); }, 50ms, 1s);
  ASSERT_TRUE(watcher.start());
  // An editor's save: write a temporary, rename it over the file; then swap-file noise.
  write(dir_ / ".policy.yaml.tmp", "two\n");
  fs::rename(dir_ / ".policy.yaml.tmp", file);
  write(dir_ / ".policy.yaml.swp", "x");
  runUntil(1);
  EXPECT_EQ(changes_, 1);
  // Same bytes rewritten: an event, no change.
  write(file, "two\n");
  runFor(300ms);
  EXPECT_EQ(changes_, 1);
}

TEST_F(PolicyWatcherRun, ConfigMapSymlinkSwapReloads) {
  const fs::path v1 = dir_ / "..v1";
  const fs::path v2 = dir_ / "..v2";
  fs::create_directories(v1);
  fs::create_directories(v2);
  write(v1 / "policy.yaml", "one\n");
  write(v2 / "policy.yaml", "two\n");
  fs::create_directory_symlink("..v1", dir_ / "..data");
  fs::create_symlink("..data/policy.yaml", dir_ / "policy.yaml");
  PolicyWatcher watcher(io_, {(dir_ / "policy.yaml").string()}, [&] { onChange(); }, 50ms,
                        1s);
  ASSERT_TRUE(watcher.start());
  // kubelet's atomic writer: a new ..data_tmp link renamed over ..data.
  fs::create_directory_symlink("..v2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  runUntil(1);
  EXPECT_EQ(changes_, 1);
}

TEST_F(PolicyWatchTest, StartFailsWithoutAnyDirectory) {
  boost::asio::io_context io;
  PolicyWatcher watcher(io, {(dir_ / "gone" / "policy.yaml").string()}, [] {});
  EXPECT_FALSE(watcher.start());
}

}  // namespace
}  // namespace portcullis::app
