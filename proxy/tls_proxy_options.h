// What the TLS listener (portcullis-tls-egress) is told by the daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/duration.h"
#include "proxy/access_log.h"
#include "proxy/node_addresses.h"
#include "policy/model.h"
#include "proxy/socket_options.h"

namespace portcullis::proxy {

class TlsInterceptionStore;

struct TlsProxyOptions {
  std::string name = "portcullis-tls-egress";
  policy::Direction direction = policy::Direction::kEgress;
  std::vector<Tcp::endpoint> bind;  // as HttpProxyOptions::bind
  bool transparent = true;          // IP_TRANSPARENT listeners; needs CAP_NET_ADMIN
  // max-connections; header-timeout bounds the wait for the whole ClientHello; idle-timeout
  // ends a relay with no bytes either way.
  policy::Limits limits;
  Duration connect_timeout = std::chrono::seconds(10);
  uint32_t upstream_mark = 0xa00;   // SO_MARK of upstream sockets; 0: none (unprivileged tests)
  bool preserve_source = false;     // bind upstream sockets to the client's address
  size_t buffer_bytes = 16 * 1024;  // per direction while relaying
  std::shared_ptr<AccessLog> access_log;  // null: proxy.access-log is off
  // The node's addresses, kept current by the daemon; null: read once at the start.
  std::shared_ptr<const NodeAddresses> node_addresses;
  // Where an accepted connection was going; empty: the accepted socket's local address (TPROXY).
  // Unit tests substitute a test origin on 127.0.0.1.
  std::function<Tcp::endpoint(const Tcp::socket&, std::error_code&)> original_destination;
  // The interception set in force, published by the daemon on every (re)load; null: the
  // context makes an empty store of its own (no interception).
  std::shared_ptr<TlsInterceptionStore> interceptions;
};

// From SPEC.md's config: bind-v4 (and bind-v6 when datapath.ipv6) on `port`, the config's
// limits and preserve-source, upstream mark 0xa00.
TlsProxyOptions tlsProxyOptions(const policy::Config& config, uint16_t port);

}  // namespace portcullis::proxy
