// The access log (SPEC.md `proxy.access-log`, issue 6): one JSON line per HTTP request and DNS
// query (proxy/access_record.h), written to a file or stdout by one writer thread.
//
// The data path never waits for I/O: an I/O thread formats its record into a thread-local
// string and appends it, under a mutex only threads of the same shard share (one shard per I/O
// thread in practice), to its shard's buffer. The writer swaps each shard's buffer for an empty
// one every flush interval (sooner when a shard is half full) and writes the batch with one
// write(2). A record that does not fit in its shard's bound is dropped and counted (dropped()),
// never waited for. Measured in tests/proxy/access_log_test.cc (LogCostPerRecord).
//
// Log rotation: reopen() (the daemon calls it on SIGUSR1) makes the writer open the path again
// before its next batch, so logrotate's rename-then-signal loses nothing.
//
//   auto log = AccessLog::open({.path = "/var/log/portcullis/access.log"});
//   (*log)->start();
//   (*log)->log(record);          // any thread
//   (*log)->stop();               // at shutdown: writes what is queued, joins the writer
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/duration.h"
#include "common/result.h"
#include "proxy/access_record.h"

namespace portcullis::proxy {

class AccessLog {
 public:
  struct Options {
    std::string path = "-";  // "-": standard output
    // Bound on the bytes waiting to be written, split evenly between the shards.
    size_t max_buffered_bytes = 8u << 20;
    size_t shards = 16;
    Duration flush_interval = std::chrono::milliseconds(100);
  };

  // Opens (creates, appends to) the file; the error names the open(2) failure.
  static Result<std::unique_ptr<AccessLog>> open(Options options);
  ~AccessLog();  // stop()
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Starts the writer thread. Until then records only queue (tests fill a queue with it).
  void start();
  // Formats and queues one record; drops it when its shard is full. Any thread; never blocks
  // on I/O.
  void log(const AccessRecord& record);
  // The writer reopens the path before its next batch. Any thread.
  void reopen();
  // Blocks until everything queued before the call is written. Returns at once when the writer
  // is not running.
  void flush();
  // Writes what is queued and joins the writer; later records are dropped.
  void stop();

  const std::string& path() const { return options_.path; }
  // Any thread; relaxed sums.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t writeErrors() const { return write_errors_.load(std::memory_order_relaxed); }
  uint64_t reopens() const { return reopens_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Shard {
    std::mutex mutex;
    std::string buffer;
    uint64_t records = 0;
    bool wake_sent = false;
  };

  AccessLog(Options options, int fd);
  void run();
  void drain();
  bool writeAll(const std::string& bytes);
  void reopenNow();
  void wakeWriter();

  const Options options_;
  const size_t shard_bytes_;
  int fd_ = -1;  // owned unless it is stdout; only the writer uses it once started
  std::vector<Shard> shards_;
  std::string spare_;  // the writer's side of the swap

  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> reopens_{0};
  std::atomic<bool> reopen_requested_{false};
  std::atomic<bool> accepting_{true};

  std::mutex writer_mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  bool wake_requested_ = false;
  bool stopping_ = false;
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;
  bool failing_ = false;  // the last write failed (logged once per streak)
  std::thread writer_;
};

}  // namespace portcullis::proxy
