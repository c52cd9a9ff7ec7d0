#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"

namespace portcullis::proxy {
namespace {

bool isStdout(const std::string& path) { return path == "-"; }

int openPath(const std::string& path) {
  if (isStdout(path)) return STDOUT_FILENO;
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

// Threads take shards round-robin in the order they first log: an IoPool's threads get one each.
size_t threadIndex() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

}  // namespace

Result<std::unique_ptr<AccessLog>> AccessLog::open(Options options) {
  const int fd = openPath(options.path);
  if (fd < 0) return std::error_code(errno, std::system_category());
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(options), fd));
}

AccessLog::AccessLog(Options options, int fd)
    : options_(std::move(options)),
      shard_bytes_(std::max<size_t>(options_.max_buffered_bytes / std::max<size_t>(options_.shards, 1), 1)),
      fd_(fd),
      shards_(std::max<size_t>(options_.shards, 1)) {}

AccessLog::~AccessLog() {
  stop();
  if (fd_ >= 0 && !isStdout(options_.path)) ::close(fd_);
}

void AccessLog::start() {
  if (writer_.joinable()) return;
  writer_ = std::thread([this] { run(); });
}

void AccessLog::log(const AccessRecord& record) {
  if (!accepting_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Formatted outside the shard's lock; the string keeps its capacity between records.
  thread_local std::string line;
  line.clear();
  appendAccessJson(record, line);
  Shard& shard = shards_[threadIndex() % shards_.size()];
  bool wake = false;
  {
    std::lock_guard lock(shard.mutex);
    if (shard.buffer.size() + line.size() > shard_bytes_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    shard.buffer += line;
    ++shard.records;
    // Half full: wake the writer now rather than at its next interval (once per batch).
    if (shard.buffer.size() > shard_bytes_ / 2 && !shard.wake_sent) {
      shard.wake_sent = true;
      wake = true;
    }
  }
  if (wake) wakeWriter();
}

void AccessLog::wakeWriter() {
  {
    std::lock_guard lock(writer_mutex_);
    wake_requested_ = true;
  }
  wake_.notify_one();
}

void AccessLog::reopen() {
  reopen_requested_.store(true, std::memory_order_relaxed);
  wakeWriter();
}

void AccessLog::flush() {
  std::unique_lock lock(writer_mutex_);
  if (!writer_.joinable() || stopping_) return;
  const uint64_t ticket = ++flush_requested_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flush_done_ >= ticket || stopping_; });
}

void AccessLog::stop() {
  accepting_.store(false, std::memory_order_relaxed);
  {
    std::lock_guard lock(writer_mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  flushed_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void AccessLog::run() {
  for (;;) {
    bool stop = false;
    uint64_t ticket = 0;
    {
      std::unique_lock lock(writer_mutex_);
      wake_.wait_for(lock, options_.flush_interval, [&] {
        return wake_requested_ || stopping_ || flush_requested_ > flush_done_;
      });
      wake_requested_ = false;
      stop = stopping_;
      ticket = flush_requested_;
    }
    if (reopen_requested_.exchange(false, std::memory_order_relaxed)) reopenNow();
    drain();
    {
      std::lock_guard lock(writer_mutex_);
      flush_done_ = ticket;
    }
    flushed_.notify_all();
    if (stop) return;
  }
}

void AccessLog::drain() {
  for (Shard& shard : shards_) {
    uint64_t records = 0;
    {
      std::lock_guard lock(shard.mutex);
      if (shard.buffer.empty()) continue;
      shard.buffer.swap(spare_);
      records = shard.records;
      shard.records = 0;
      shard.wake_sent = false;
    }
    if (writeAll(spare_)) {
      written_.fetch_add(records, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(records, std::memory_order_relaxed);
    }
    spare_.clear();
  }
}

bool AccessLog::writeAll(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      if (!failing_) {
        log::error("access log ", options_.path, ": write failed: ",
                   std::error_code(n < 0 ? errno : EIO, std::system_category()).message(),
                   "; records are dropped until writes succeed");
      }
      failing_ = true;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (failing_) log::info("access log ", options_.path, ": writing again");
  failing_ = false;
  return true;
}

void AccessLog::reopenNow() {
  if (isStdout(options_.path)) return;
  const int fd = openPath(options_.path);
  if (fd < 0) {
    // Keep writing to the old file (renamed or not) rather than losing records.
    log::error("access log ", options_.path, ": reopen failed: ",
               std::error_code(errno, std::system_category()).message());
    return;
  }
  ::close(fd_);
  fd_ = fd;
  reopens_.fetch_add(1, std::memory_order_relaxed);
  log::info("access log ", options_.path, " reopened");
}

}  // namespace portcullis::proxy
