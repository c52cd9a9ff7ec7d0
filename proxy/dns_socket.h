// Socket options of the DNS listeners (Linux): IP_TRANSPARENT for the TPROXY listeners and the
// reply sockets, IP_RECVORIGDSTADDR for a datagram's original destination, SO_MARK for upstream
// traffic so the datapath never redirects it again.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <system_error>

namespace portcullis::proxy {

// IP_TRANSPARENT (or IPV6_TRANSPARENT): bind to and receive for foreign addresses. Needs
// CAP_NET_ADMIN.
std::error_code setTransparent(int fd, bool v6);

// SO_MARK on everything the socket sends; 0 leaves the socket unmarked (unprivileged tests).
std::error_code setMark(int fd, uint32_t mark);

// IP_RECVORIGDSTADDR (or IPV6_RECVORIGDSTADDR): each datagram carries its original
// destination in a control message, the address TPROXY redirected it away from.
std::error_code enableOriginalDestination(int fd, bool v6);

// The IP_ORIGDSTADDR / IPV6_ORIGDSTADDR control message of a received datagram.
std::optional<boost::asio::ip::udp::endpoint> originalDestination(const msghdr& message);

// Room for the control message originalDestination() reads.
inline constexpr size_t kOriginalDestinationControlSize = CMSG_SPACE(sizeof(sockaddr_in6));

// An Asio error as the std::error_code Result carries, its category kept (Boost's conversion
// maps system errors to std::system_category and wraps the others).
inline std::error_code toStdError(const boost::system::error_code& ec) { return ec; }

}  // namespace portcullis::proxy
