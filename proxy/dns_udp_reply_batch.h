// Relayed UDP answers on their way to the clients, sent together: the answers one wakeup of an
// upstream socket read are queued here and leave in one sendmmsg per reply socket, instead of
// one sendto each (issue 5: batch with recvmmsg/sendmmsg). The answers are not copied: they stay
// in the upstream's receive buffers, so the owner flushes before reading into them again.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <system_error>
#include <vector>

namespace portcullis::proxy {

class DnsUdpReplyBatch {
 public:
  using udp = boost::asio::ip::udp;
  // One answer that could not be sent.
  using Failed = std::function<void(const udp::endpoint& client, std::error_code)>;

  explicit DnsUdpReplyBatch(Failed failed) : failed_(std::move(failed)) {}

  // Queues `answer` for `client` on the unconnected socket `fd`. `answer` must stay valid until
  // flush().
  void add(int fd, const udp::endpoint& client, std::span<const uint8_t> answer);
  // Sends everything queued: one sendmmsg per run of answers on the same socket.
  void flush();
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    int fd;
    udp::endpoint client;
  };
  void send(size_t first, size_t last);

  const Failed failed_;
  std::vector<Entry> entries_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
};

}  // namespace portcullis::proxy
