#include "proxy/socket_options.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

namespace portcullis::proxy {
namespace {

std::error_code setInt(int fd, int level, int name, int value) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return {errno, std::system_category()};
  }
  return {};
}

std::error_code transparent(int fd, bool v6) {
  return v6 ? setInt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1) : setInt(fd, SOL_IP, IP_TRANSPARENT, 1);
}

}  // namespace

std::error_code setMark(Tcp::socket& socket, uint32_t mark) {
  return setInt(socket.native_handle(), SOL_SOCKET, SO_MARK, static_cast<int>(mark));
}

std::error_code setMark(Tcp::acceptor& acceptor, uint32_t mark) {
  return setInt(acceptor.native_handle(), SOL_SOCKET, SO_MARK, static_cast<int>(mark));
}

std::error_code setTransparent(Tcp::socket& socket, const Tcp& protocol) {
  return transparent(socket.native_handle(), protocol == Tcp::v6());
}

std::error_code setTransparent(Tcp::acceptor& acceptor, const Tcp& protocol) {
  return transparent(acceptor.native_handle(), protocol == Tcp::v6());
}

void setAbortiveClose(Tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);
}

std::error_code setDelayedAck(int fd) { return setInt(fd, IPPROTO_TCP, TCP_QUICKACK, 0); }

std::error_code startConnect(Tcp::socket& socket, const Tcp::endpoint& destination) {
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  if (ec) return ec;
  if (::connect(socket.native_handle(), destination.data(),
                static_cast<socklen_t>(destination.size())) == 0 ||
      errno == EINPROGRESS) {
    return {};
  }
  return {errno, std::system_category()};
}

int unsentBytes(Tcp::socket& socket) {
  int queued = 0;
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &queued) != 0) return 0;
  return queued;
}

IpAddress ipAddressOf(const boost::asio::ip::address& address) {
  if (address.is_v4()) return IpAddress::v4(address.to_v4().to_uint());
  const boost::asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return IpAddress::v4(
        boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_uint());
  }
  return IpAddress::v6(v6.to_bytes());
}

}  // namespace portcullis::proxy
