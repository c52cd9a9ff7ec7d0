// `policy-watch: true` (issue 6): reloads the policy when its files change, the way SIGHUP does,
// without a signal: the way a Kubernetes ConfigMap update reaches a DaemonSet. The only file
// that includes <sys/inotify.h>. What is watched and which events count is PolicyWatchFilter's;
// bursts are settled by PolicyWatchDebounce; a reload is asked for only when the files' bytes
// differ from the last ones seen (a touch or an identical rewrite is not a change).
//
// Runs on the daemon's io_context (its main thread), as SIGHUP's handler does.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/policy_watch_debounce.h"
#include "app/policy_watch_filter.h"
#include "common/duration.h"
#include "common/result.h"

namespace portcullis::app {

class PolicyWatcher {
 public:
  using OnChange = std::function<void()>;

  static constexpr Duration kQuiet = std::chrono::milliseconds(200);
  static constexpr Duration kMaxDelay = std::chrono::seconds(2);

  PolicyWatcher(boost::asio::io_context& io, std::vector<std::string> files, OnChange on_change,
                Duration quiet = kQuiet, Duration max_delay = kMaxDelay);
  ~PolicyWatcher();
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // inotify_init1 and a watch on every directory; the error names the failing call's errno.
  Result<void> start();
  void stop();

 private:
  void addWatches();
  void read();
  void onRead(const boost::system::error_code& ec, size_t n);
  void arm(PolicyWatchDebounce::Clock::time_point deadline);
  void onTimer(const boost::system::error_code& ec);

  std::vector<std::string> files_;
  OnChange on_change_;
  PolicyWatchFilter filter_;
  PolicyWatchDebounce debounce_;
  std::string last_snapshot_;
  boost::asio::posix::stream_descriptor inotify_;
  boost::asio::steady_timer timer_;
  std::map<int, std::string> directories_;  // watch descriptor -> directory
  alignas(8) std::array<char, 16384> buffer_{};
  bool stopped_ = false;
};

}  // namespace portcullis::app
