#include "proxy/dns_udp_reply_batch.h"

#include <cerrno>

namespace portcullis::proxy {

void DnsUdpReplyBatch::add(int fd, const udp::endpoint& client, std::span<const uint8_t> answer) {
  entries_.push_back({fd, client});
  // sendmsg takes non-const pointers; it only reads them.
  iovecs_.push_back({const_cast<uint8_t*>(answer.data()), answer.size()});
}

void DnsUdpReplyBatch::flush() {
  // The headers point into entries_ and iovecs_, so they are built once every answer is in.
  headers_.resize(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    msghdr& h = headers_[i].msg_hdr;
    h = {};
    h.msg_name = entries_[i].client.data();
    h.msg_namelen = static_cast<socklen_t>(entries_[i].client.size());
    h.msg_iov = &iovecs_[i];
    h.msg_iovlen = 1;
  }
  size_t first = 0;
  while (first < entries_.size()) {
    size_t last = first + 1;
    while (last < entries_.size() && entries_[last].fd == entries_[first].fd) ++last;
    send(first, last);
    first = last;
  }
  entries_.clear();
  iovecs_.clear();
}

void DnsUdpReplyBatch::send(size_t first, size_t last) {
  const int fd = entries_[first].fd;
  while (first < last) {
    const int sent = ::sendmmsg(fd, &headers_[first], static_cast<unsigned>(last - first),
                                MSG_DONTWAIT);
    if (sent > 0) {
      first += static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    // The first unsent answer failed (a full socket buffer, an unreachable client): it is
    // dropped and the rest go on.
    failed_(entries_[first].client, {sent < 0 ? errno : EIO, std::system_category()});
    ++first;
  }
}

}  // namespace portcullis::proxy
