#include "proxy/dns_reply_sockets.h"

#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>

#include "proxy/dns_socket.h"

namespace portcullis::proxy {
namespace {

using udp = DnsReplySockets::udp;

std::error_code sendTo(udp::socket& socket, const udp::endpoint& client,
                       std::span<const uint8_t> answer) {
  if (::sendto(socket.native_handle(), answer.data(), answer.size(), MSG_DONTWAIT, client.data(),
               static_cast<socklen_t>(client.size())) < 0) {
    return {errno, std::system_category()};
  }
  return {};
}

}  // namespace

DnsReplySockets::DnsReplySockets(const boost::asio::any_io_executor& executor, uint32_t mark,
                                 Duration idle, size_t max_sockets)
    : executor_(executor), timer_(executor), mark_(mark), idle_(idle), max_sockets_(max_sockets) {}

std::error_code DnsReplySockets::open(const udp::endpoint& from, udp::socket& socket) {
  boost::system::error_code ec;
  socket.open(from.protocol(), ec);
  if (ec) return toStdError(ec);
  const int fd = socket.native_handle();
  const bool v6 = from.address().is_v6();
  if (auto error = setTransparent(fd, v6)) return error;
  if (auto error = setMark(fd, mark_)) return error;
  socket.set_option(udp::socket::reuse_address(true), ec);
  if (!ec && v6) socket.set_option(boost::asio::ip::v6_only(true), ec);
  // The socket only sends; whatever reaches it is dropped soon by the smallest buffer.
  if (!ec) socket.set_option(udp::socket::receive_buffer_size(1), ec);
  if (!ec) socket.bind(from, ec);
  // Connected to its own address: Linux still sends to the address each sendto names, but the
  // socket now takes only packets coming from that address and port (none). Unconnected, it
  // tied with a server on the node bound to the same address and port, and won the lookup
  // (newest first): the proxy's own forwarded queries to a node-local DNS server were taken
  // by it and lost. TPROXY's lookup of an established socket still cannot find it.
  if (!ec) socket.connect(from, ec);
  return toStdError(ec);
}

std::error_code DnsReplySockets::send(const udp::endpoint& from, const udp::endpoint& client,
                                      std::span<const uint8_t> answer) {
  if (auto it = sockets_.find(from); it != sockets_.end()) {
    it->second.used = true;
    return sendTo(*it->second.socket, client, answer);
  }
  auto socket = std::make_unique<udp::socket>(executor_);
  if (auto error = open(from, *socket)) return error;
  const std::error_code sent = sendTo(*socket, client, answer);
  if (sockets_.size() < max_sockets_) {
    sockets_.emplace(from, Entry{std::move(socket), true});
    armSweep();
  }
  return sent;
}

Result<int> DnsReplySockets::socketFor(const udp::endpoint& from) {
  if (auto it = sockets_.find(from); it != sockets_.end()) {
    it->second.used = true;
    return it->second.socket->native_handle();
  }
  if (sockets_.size() >= max_sockets_) return std::make_error_code(std::errc::no_buffer_space);
  auto socket = std::make_unique<udp::socket>(executor_);
  if (auto error = open(from, *socket)) return error;
  const int fd = socket->native_handle();
  sockets_.emplace(from, Entry{std::move(socket), true});
  armSweep();
  return fd;
}

void DnsReplySockets::armSweep() {
  if (sweeping_) return;
  sweeping_ = true;
  timer_.expires_after(idle_);
  // `this` is touched only when the timer fired: close() or destruction cancel it first.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    sweeping_ = false;
    sweep();
  });
}

void DnsReplySockets::sweep() {
  std::erase_if(sockets_, [](const auto& item) { return !item.second.used; });
  for (auto& [from, entry] : sockets_) entry.used = false;
  if (!sockets_.empty()) armSweep();
}

void DnsReplySockets::close() {
  timer_.cancel();
  sweeping_ = false;
  sockets_.clear();
}

}  // namespace portcullis::proxy
