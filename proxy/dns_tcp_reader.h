// The read side of one DNS-over-TCP stream (RFC 1035 4.2.2: each message behind a 2-byte
// length): bytes are read into space() as they come, one read_some at a time, and next() frames
// every complete message in them, so a segment that carries many messages costs one read, and a
// message that spans many reads waits in the buffer until its last byte.
//
// Memory: the buffer starts at kStartSize (what an idle connection holds), grows only to fit the
// message being read (up to kMaxSize, one largest message with its prefix) or, up to kBulkSize,
// when reads keep filling it; the owner frames every complete message before reading again, so
// what stays across reads is at most one incomplete message. Back to kStartSize once emptied by a
// read that used under a quarter of it.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace portcullis::proxy {

class DnsTcpReader {
 public:
  static constexpr size_t kStartSize = 512;
  static constexpr size_t kMaxSize = 2 + 65535;
  // Growth on full reads stops here; only a message that needs more goes beyond it.
  static constexpr size_t kBulkSize = 16 * 1024;

  // Room after the held bytes to read into (compacting, growing as said above); never empty.
  // Call only when next() has nothing more: the held bytes are then one incomplete message.
  boost::asio::mutable_buffer space();
  void commit(size_t n);
  // The next complete message without its length (an empty one for a length of 0), valid until
  // space() is called; nullopt when the held bytes do not complete one.
  std::optional<std::span<const uint8_t>> next();
  // Bytes of a message not yet complete (or not yet framed) are held.
  bool holding() const { return begin_ != end_; }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t last_read_ = 0;
  bool filled_ = false;  // the last read took all the room it was given
};

}  // namespace portcullis::proxy
