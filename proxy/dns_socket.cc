#include "proxy/dns_socket.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace portcullis::proxy {
namespace {

std::error_code lastError() { return {errno, std::system_category()}; }

std::error_code setInt(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) return lastError();
  return {};
}

}  // namespace

std::error_code setTransparent(int fd, bool v6) {
  return v6 ? setInt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1) : setInt(fd, SOL_IP, IP_TRANSPARENT, 1);
}

std::error_code setMark(int fd, uint32_t mark) {
  if (mark == 0) return {};
  return setInt(fd, SOL_SOCKET, SO_MARK, static_cast<int>(mark));
}

std::error_code enableOriginalDestination(int fd, bool v6) {
  return v6 ? setInt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, 1)
            : setInt(fd, SOL_IP, IP_RECVORIGDSTADDR, 1);
}

std::optional<boost::asio::ip::udp::endpoint> originalDestination(const msghdr& message) {
  namespace ip = boost::asio::ip;
  // CMSG_NXTHDR takes a non-const msghdr; it only reads it.
  auto& m = const_cast<msghdr&>(message);
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR &&
        c->cmsg_len >= CMSG_LEN(sizeof(sockaddr_in))) {
      sockaddr_in sin;
      std::memcpy(&sin, CMSG_DATA(c), sizeof sin);
      return ip::udp::endpoint(ip::address_v4(ntohl(sin.sin_addr.s_addr)), ntohs(sin.sin_port));
    }
    if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR &&
        c->cmsg_len >= CMSG_LEN(sizeof(sockaddr_in6))) {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, CMSG_DATA(c), sizeof sin6);
      ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &sin6.sin6_addr, bytes.size());
      return ip::udp::endpoint(ip::address_v6(bytes, sin6.sin6_scope_id), ntohs(sin6.sin6_port));
    }
  }
  return std::nullopt;
}

}  // namespace portcullis::proxy
