#include "proxy/socket_options.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Asio keeps what it knows of a descriptor (non-blocking, possibly a duplicate) in the socket's
// implementation, a protected member: a pointer to it taken through a derived class reaches it
// on any socket.
struct SocketState : Tcp::socket {
  static boost::asio::detail::socket_ops::state_type& of(Tcp::socket& socket) {
    return (socket.*&SocketState::impl_).get_implementation().state_;
  }
};

// `fd` (non-blocking, close-on-exec, from accept4 or socket) into `socket`.
std::error_code adopt(Tcp::socket& socket, const Tcp& protocol, int fd) {
  boost::system::error_code ec;
  socket.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return ec;
  }
  namespace ops = boost::asio::detail::socket_ops;
  ops::state_type& state = SocketState::of(socket);
  state = static_cast<ops::state_type>((state | ops::internal_non_blocking) & ~ops::possible_dup);
  return {};
}

}  // namespace

Tcp::socket acceptNonBlocking(Tcp::acceptor& acceptor, const boost::asio::any_io_executor& executor,
                              Tcp::endpoint& peer, std::error_code& ec) {
  Tcp::socket socket(executor);
  socklen_t size = static_cast<socklen_t>(peer.capacity());
  const int fd = ::accept4(acceptor.native_handle(), peer.data(), &size,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    ec = {errno, std::system_category()};
    return socket;
  }
  peer.resize(size);
  const Tcp protocol = peer.data()->sa_family == AF_INET6 ? Tcp::v6() : Tcp::v4();
  ec = adopt(socket, protocol, fd);
  return socket;
}

std::error_code openNonBlocking(Tcp::socket& socket, const Tcp& protocol) {
  const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          protocol.protocol());
  if (fd < 0) return {errno, std::system_category()};
  return adopt(socket, protocol, fd);
}

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

std::error_code prepareUpstream(Tcp::socket& socket, const Tcp& protocol, uint32_t mark,
                                const std::optional<boost::asio::ip::address>& source) {
  if (mark != 0) {
    if (std::error_code m = setMark(socket, mark)) return m;
  }
  if (!source) return {};
  if (std::error_code t = setTransparent(socket, protocol)) return t;
  boost::system::error_code ec;
  socket.bind(Tcp::endpoint(*source, 0), ec);
  return ec;
}

void setAbortiveClose(Tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);
}

std::error_code setDelayedAck(int fd) { return setInt(fd, IPPROTO_TCP, TCP_QUICKACK, 0); }

std::error_code startConnect(Tcp::socket& socket, const Tcp::endpoint& destination) {
  boost::system::error_code ec;
  // Opened by openNonBlocking, the descriptor is non-blocking already.
  if (!socket.native_non_blocking()) socket.non_blocking(true, ec);
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

}  // namespace portcullis::proxy
