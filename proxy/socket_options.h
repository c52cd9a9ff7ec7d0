// The Linux socket options a transparent proxy needs, on Asio sockets. Errors are values.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <system_error>

#include "common/ip_address.h"

namespace portcullis::proxy {

using Tcp = boost::asio::ip::tcp;

// SO_MARK: packets the proxy sends carry this mark so the datapath never redirects them again
// (SPEC.md "Datapath layout": 0xa00). Needs CAP_NET_ADMIN.
std::error_code setMark(Tcp::socket& socket, uint32_t mark);
// On a listener: its SYN-ACKs carry the mark, and accepted sockets inherit it (inet_csk_clone).
std::error_code setMark(Tcp::acceptor& acceptor, uint32_t mark);
// The mark of the sockets that answer redirected clients (listeners, DNS reply sockets) for an
// upstream mark: Cilium's other proxy mark, 0xb00 for 0xa00 (0 stays 0: unprivileged tests).
// The datapath treats both as from-proxy traffic (never redirected, not tracked), except that
// an upstream connection to the node itself is tracked, since the local server's answers carry
// no mark; what answers a client must not be, as a local client's packets were not tracked.
constexpr uint32_t answerMark(uint32_t upstream_mark) {
  return upstream_mark == 0 ? 0 : upstream_mark | 0x100;
}
static_assert(answerMark(0xa00) == 0xb00);

// IP_TRANSPARENT / IPV6_TRANSPARENT: a listener accepts connections addressed to any
// destination (TPROXY); an upstream socket may bind to a non-local (the client's) address.
// Needs CAP_NET_ADMIN.
std::error_code setTransparent(Tcp::socket& socket, const Tcp& protocol);
std::error_code setTransparent(Tcp::acceptor& acceptor, const Tcp& protocol);

// An open upstream socket before its connect: the upstream mark (when not 0), and with `source`
// (preserve-source) IP_TRANSPARENT and a bind to that address, so the origin sees the client's
// address and the datapath's `-m socket --transparent` rule brings its replies back here.
std::error_code prepareUpstream(Tcp::socket& socket, const Tcp& protocol, uint32_t mark,
                                const std::optional<boost::asio::ip::address>& source);

// SO_LINGER {on, 0}: close() sends RST and leaves no TIME_WAIT socket behind.
void setAbortiveClose(Tcp::socket& socket);

// TCP_QUICKACK off (delayed-ACK, "ping-pong" mode): the ACK of what arrives waits to ride on
// the answer, which a proxy sends at once, or, on a connecting socket, on the first data: one
// segment fewer each time. Inherited by the connections a listener accepts (HAProxy sets it on
// its HTTP listeners). Large transfers are unaffected: every second full segment is ACKed.
std::error_code setDelayedAck(int fd);

// Descriptors made non-blocking and close-on-exec by the system call that creates them
// (accept4, socket with SOCK_NONBLOCK), handed to Asio already in the state its first
// asynchronous operation would put them in: no ioctl(FIONBIO) per socket. Asio also learns the
// descriptor is no duplicate, so closing it needs no EPOLL_CTL_DEL (close(2) removes it from
// epoll), as for the sockets Asio opens itself.
// The next connection waiting on `acceptor` (non-blocking): the socket, on `executor`, and its
// peer; EAGAIN (would_block) when none is waiting.
Tcp::socket acceptNonBlocking(Tcp::acceptor& acceptor, const boost::asio::any_io_executor& executor,
                              Tcp::endpoint& peer, std::error_code& ec);
// Opens `socket` (closed) for `protocol`.
std::error_code openNonBlocking(Tcp::socket& socket, const Tcp& protocol);

// Starts a non-blocking connect(2) on an open socket (made non-blocking here): success when the
// connection is established or in progress (EINPROGRESS), else the error (ENETUNREACH...).
// Whether an in-progress connect succeeded is learnt from the first send, which fails with
// EAGAIN while the handshake runs and with the connect's error (ECONNREFUSED...) once it failed.
std::error_code startConnect(Tcp::socket& socket, const Tcp::endpoint& destination);

// Bytes written but not yet acknowledged by the peer (SIOCOUTQ); 0 when unknown.
int unsentBytes(Tcp::socket& socket);

}  // namespace portcullis::proxy
