// A bounded byte buffer for one direction of a connection: bytes are read into space(),
// handed on from data(), and consume()d once written. The storage is allocated on first use and
// release()d while a connection idles, so an idle keep-alive connection holds no buffer.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstring>
#include <memory>
#include <string_view>

namespace portcullis::proxy {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t capacity) : capacity_(capacity) {}

  std::string_view data() const { return {storage_.get() + begin_, end_ - begin_}; }
  bool empty() const { return begin_ == end_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Free space after the data, moving the data to the front first; never empty unless full.
  boost::asio::mutable_buffer space() {
    if (!storage_) storage_ = std::make_unique_for_overwrite<char[]>(capacity_);
    if (begin_ > 0) {
      std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    return {storage_.get() + end_, capacity_ - end_};
  }

  void commit(size_t n) { end_ += n; }

  void release() {
    if (empty()) storage_.reset();
  }

 private:
  std::unique_ptr<char[]> storage_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace portcullis::proxy
