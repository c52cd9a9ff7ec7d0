// What one HTTP listener (portcullis-http-egress or -ingress) is told by the daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "common/duration.h"
#include "proxy/access_log.h"
#include "proxy/node_addresses.h"
#include "policy/model.h"
#include "proxy/socket_options.h"

namespace portcullis::proxy {

// Where an accepted connection was going. With TPROXY it is the socket's local address
// (getsockname); unit tests substitute a test origin on 127.0.0.1.
using OriginalDestination = std::function<Tcp::endpoint(const Tcp::socket&, std::error_code&)>;

struct HttpProxyOptions {
  std::string name = "portcullis-http-egress";
  policy::Direction direction = policy::Direction::kEgress;
  // 127.0.0.1:P and [::1]:P (SPEC.md bind-v4/bind-v6); port 0 picks a free one (tests).
  std::vector<Tcp::endpoint> bind;
  bool transparent = true;  // IP_TRANSPARENT listeners; needs CAP_NET_ADMIN
  policy::Limits limits;    // max-connections, header-timeout, idle-timeout, max-header-bytes
  uint32_t max_headers = 100;
  Duration connect_timeout = std::chrono::seconds(10);
  // From the end of a request to the head of its response.
  Duration response_timeout = std::chrono::seconds(60);
  // How long a closing connection waits for the client to close first (see HttpSession).
  Duration linger_timeout = std::chrono::seconds(5);
  // The body of a denied request is read and dropped up to this size to keep the connection.
  uint64_t max_discard_bytes = 1 << 20;
  uint32_t upstream_mark = 0xa00;   // SO_MARK of upstream sockets; 0: none (unprivileged tests)
  bool preserve_source = false;     // bind upstream sockets to the client's address
  size_t buffer_bytes = 16 * 1024;  // per direction, allocated only while bytes are in flight
  OriginalDestination original_destination;  // empty: the accepted socket's local address
  std::shared_ptr<AccessLog> access_log;     // null: proxy.access-log is off
  // The node's addresses, kept current by the daemon; null: read once at the start.
  std::shared_ptr<const NodeAddresses> node_addresses;
};

// What SPEC.md's config says for one direction's listener: named portcullis-http-<direction>,
// bound to bind-v4 (and bind-v6 when datapath.ipv6) on `port`, with the config's limits and
// preserve-source, upstream mark 0xa00.
HttpProxyOptions httpProxyOptions(const policy::Config& config, policy::Direction direction,
                                  uint16_t port);

// bind-v4, and bind-v6 when datapath.ipv6, on `port`: where the HTTP and TLS listeners bind.
std::vector<Tcp::endpoint> proxyBinds(const policy::Config& config, uint16_t port);

}  // namespace portcullis::proxy
