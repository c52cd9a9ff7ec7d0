#include "proxy/dns_tcp_reader.h"

#include <algorithm>
#include <cstring>

namespace portcullis::proxy {

boost::asio::mutable_buffer DnsTcpReader::space() {
  const size_t held = end_ - begin_;
  size_t wanted = std::max(capacity_, kStartSize);
  if (held >= 2)
    wanted = std::max(wanted, 2 + (size_t{storage_[begin_]} << 8 | storage_[begin_ + 1]));
  if (filled_ && wanted < kBulkSize) wanted = std::min(wanted * 2, kBulkSize);
  // Emptied by a read that used little of the room: the burst (or the large message) is over.
  if (held == 0 && !filled_ && last_read_ < capacity_ / 4) wanted = kStartSize;
  if (wanted != capacity_) {
    auto grown = std::make_unique_for_overwrite<uint8_t[]>(wanted);
    if (held > 0) std::memcpy(grown.get(), storage_.get() + begin_, held);
    storage_ = std::move(grown);
    capacity_ = wanted;
  } else if (begin_ > 0 && held > 0) {
    std::memmove(storage_.get(), storage_.get() + begin_, held);
  }
  begin_ = 0;
  end_ = held;
  return {storage_.get() + end_, capacity_ - end_};
}

void DnsTcpReader::commit(size_t n) {
  filled_ = end_ + n == capacity_;
  last_read_ = n;
  end_ += n;
}

std::optional<std::span<const uint8_t>> DnsTcpReader::next() {
  const size_t held = end_ - begin_;
  if (held < 2) return std::nullopt;
  const size_t length = size_t{storage_[begin_]} << 8 | storage_[begin_ + 1];
  if (held < 2 + length) return std::nullopt;
  const std::span<const uint8_t> message(storage_.get() + begin_ + 2, length);
  begin_ += 2 + length;
  return message;
}

}  // namespace portcullis::proxy
