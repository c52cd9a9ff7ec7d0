#include "app/policy_watcher.h"

#include <sys/inotify.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace portcullis::app {
namespace {

// Writes and closes (editors that write in place), renames into the directory (rename-on-save,
// `ln -sfn`, the ConfigMap `..data` swap), creations and deletions (`ln -sf` unlinks first).
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                           IN_ATTRIB | IN_ONLYDIR;

}  // namespace

PolicyWatcher::PolicyWatcher(boost::asio::io_context& io, std::vector<std::string> files,
                             OnChange on_change, Duration quiet, Duration max_delay)
    : files_(std::move(files)),
      on_change_(std::move(on_change)),
      filter_(files_),
      debounce_(quiet, max_delay),
      inotify_(io),
      timer_(io) {}

PolicyWatcher::~PolicyWatcher() { stop(); }

Result<void> PolicyWatcher::start() {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return std::error_code(errno, std::system_category());
  inotify_.assign(fd);
  last_snapshot_ = PolicyWatchFilter::snapshot(files_);
  addWatches();
  if (directories_.empty()) return std::make_error_code(std::errc::no_such_file_or_directory);
  read();
  return ok();
}

void PolicyWatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  inotify_.close(ignored);
}

// Adding a directory already watched returns its existing descriptor, so this is also how the
// set is refreshed after a change moved a symlink's target elsewhere.
void PolicyWatcher::addWatches() {
  filter_ = PolicyWatchFilter(files_);
  for (const std::string& dir : filter_.directories()) {
    const int wd = ::inotify_add_watch(inotify_.native_handle(), dir.c_str(), kMask);
    if (wd < 0) {
      log::warn("policy-watch: cannot watch ", dir, ": ", std::strerror(errno));
      continue;
    }
    directories_[wd] = dir;
  }
}

void PolicyWatcher::read() {
  inotify_.async_read_some(boost::asio::buffer(buffer_),
                           [this](const boost::system::error_code& ec, size_t n) { onRead(ec, n); });
}

void PolicyWatcher::onRead(const boost::system::error_code& ec, size_t n) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    log::error("policy-watch: reading inotify events: ", ec.message(), "; watching stops");
    return;
  }
  bool relevant = false;
  for (size_t at = 0; at + sizeof(inotify_event) <= n;) {
    inotify_event event;
    std::memcpy(&event, buffer_.data() + at, sizeof event);
    const char* name = buffer_.data() + at + sizeof(inotify_event);
    at += sizeof(inotify_event) + event.len;
    if (event.mask & IN_Q_OVERFLOW) {
      relevant = true;  // events were lost: look at the files anyway
      continue;
    }
    if (event.mask & IN_IGNORED) {
      directories_.erase(event.wd);  // the directory went away (or was unmounted)
      continue;
    }
    const auto dir = directories_.find(event.wd);
    if (dir == directories_.end() || event.len == 0) continue;
    if (filter_.relevant(dir->second, std::string_view(name, ::strnlen(name, event.len)))) {
      relevant = true;
    }
  }
  if (relevant) arm(debounce_.event(PolicyWatchDebounce::Clock::now()));
  read();
}

void PolicyWatcher::arm(PolicyWatchDebounce::Clock::time_point deadline) {
  timer_.expires_at(deadline);
  timer_.async_wait([this](const boost::system::error_code& ec) { onTimer(ec); });
}

void PolicyWatcher::onTimer(const boost::system::error_code& ec) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (!debounce_.due(PolicyWatchDebounce::Clock::now())) return;
  addWatches();  // a swapped symlink may point into a new directory now
  std::string snapshot = PolicyWatchFilter::snapshot(files_);
  if (snapshot == last_snapshot_) {
    log::debug("policy-watch: files touched but unchanged");
    return;
  }
  last_snapshot_ = std::move(snapshot);
  on_change_();
}

}  // namespace portcullis::app
