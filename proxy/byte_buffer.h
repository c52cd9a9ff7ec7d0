// A bounded byte buffer for one direction of a connection: bytes are read into space(),
// handed on from data(), and consume()d once written. The storage is taken on first use and
// release()d while a connection idles, so an idle keep-alive connection holds no buffer.
//
// Storage comes from a small per-thread free list (HAProxy's pools, in spirit): a keep-alive
// connection gives its buffers back between requests and takes them again at the next one, and a
// new connection takes those of the last one closed on its thread, with no malloc or free.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace portcullis::proxy {

class BufferPool {
 public:
  // Enough for the buffers of the connections one thread serves at once under load; what is
  // beyond it is freed. At most kMaxFree * size bytes stay cached per thread (1 MiB for 16 KiB).
  static constexpr size_t kMaxFree = 64;

  static std::unique_ptr<char[]> take(size_t size) {
    if (BufferPool* pool = local(); pool != nullptr && pool->size_ == size && !pool->free_.empty()) {
      std::unique_ptr<char[]> out = std::move(pool->free_.back());
      pool->free_.pop_back();
      return out;
    }
    return std::make_unique_for_overwrite<char[]>(size);
  }

  static void give(std::unique_ptr<char[]> storage, size_t size) {
    BufferPool* pool = local();
    if (pool == nullptr) return;  // the thread is exiting: storage is freed here
    if (pool->size_ == 0) pool->size_ = size;  // one size per thread: the options' buffer size
    if (pool->size_ != size || pool->free_.size() == kMaxFree) return;
    pool->free_.push_back(std::move(storage));
  }

  // Buffers cached on the calling thread (tests).
  static size_t cached() {
    BufferPool* pool = local();
    return pool == nullptr ? 0 : pool->free_.size();
  }

  ~BufferPool() { gone() = true; }

 private:
  BufferPool() { free_.reserve(kMaxFree); }

  // Null once the thread's pool was destroyed (a buffer outliving it during thread exit).
  static BufferPool* local() {
    if (gone()) return nullptr;
    thread_local BufferPool pool;
    return &pool;
  }
  // Trivially destructible, so it can still be read after the pool's destructor ran.
  static bool& gone() {
    thread_local bool flag = false;
    return flag;
  }

  size_t size_ = 0;
  std::vector<std::unique_ptr<char[]>> free_;
};

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t capacity) : capacity_(capacity) {}
  ~ByteBuffer() {
    if (storage_) BufferPool::give(std::move(storage_), capacity_);
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  std::string_view data() const { return {storage_.get() + begin_, end_ - begin_}; }
  bool empty() const { return begin_ == end_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Free space after the data, moving the data to the front first; never empty unless full.
  boost::asio::mutable_buffer space() {
    if (!storage_) storage_ = BufferPool::take(capacity_);
    if (begin_ > 0) {
      std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    return {storage_.get() + end_, capacity_ - end_};
  }

  void commit(size_t n) { end_ += n; }

  void release() {
    if (empty() && storage_) BufferPool::give(std::move(storage_), capacity_);
  }

 private:
  std::unique_ptr<char[]> storage_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace portcullis::proxy
