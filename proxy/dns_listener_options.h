// How the DNS listeners and their sessions behave, beyond the policy::DnsOptions of the config.
// Production uses the defaults; unit tests turn off what needs privileges and point original
// destinations at a fake upstream.
#pragma once

#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>

#include "common/duration.h"
#include "policy/model.h"

namespace portcullis::proxy {

struct DnsListenerOptions {
  policy::Direction direction = policy::Direction::kEgress;
  // SO_MARK of upstream sockets (SPEC.md "Datapath layout": 0xa00, never redirected again, not
  // connection-tracked) and, as answerMark(), of listeners and reply sockets; 0: unmarked.
  uint32_t upstream_mark = 0xa00;
  // IP_TRANSPARENT listeners (TPROXY), and UDP answers sent from the original destination's
  // address and port. Off: plain sockets, answers sent from the listener (unprivileged tests).
  bool transparent = true;
  // SO_REUSEPORT even with one executor (DnsProxy sets it when it has several).
  bool reuse_port = false;
  // A TCP connection with nothing in flight is closed after this long (RFC 7766 6.2.3).
  Duration tcp_idle_timeout = std::chrono::seconds(30);
  uint32_t max_tcp_connections = 10000;
  // Queries of one TCP connection in flight or waiting to be written; beyond it the connection
  // is not read until answers drain (backpressure rather than SERVFAIL).
  uint32_t max_tcp_pipeline = 64;
  // Maps the original destination the kernel reports (IP_ORIGDSTADDR, or an accepted socket's
  // local address) to the one to judge and forward to. Empty: the reported one. Tests use it
  // to reach a fake upstream without TPROXY.
  std::function<boost::asio::ip::udp::endpoint(const boost::asio::ip::udp::endpoint&)>
      original_destination;
};

}  // namespace portcullis::proxy
