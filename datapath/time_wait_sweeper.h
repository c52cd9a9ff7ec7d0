// Removes the TIME_WAIT sockets the transparent proxy left once their flows stop being
// redirected. A socket the proxy closed first (a client's `Connection: close`, a DNS-over-TCP
// client closed idle) stays in TIME_WAIT with the original destination as its local address;
// a forwarded SYN reusing that 4-tuple is matched to it by early demux and dropped for up to
// 60 s. Only a transparent socket can hold a local address the namespace does not own, so
// those are the ones destroyed (NETLINK_SOCK_DIAG, SOCK_DESTROY; wrapped once, in the .cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "datapath/datapath_plan.h"

namespace portcullis::datapath {

// A TCP socket as sock_diag names it; `cookie` makes SOCK_DESTROY hit exactly the dumped one.
struct TcpSocketId {
  IpAddress local;
  uint16_t local_port = 0;
  IpAddress remote;
  uint16_t remote_port = 0;
  uint32_t interface = 0;
  uint64_t cookie = 0;
};

// Which TIME_WAIT sockets to destroy: local address not one of the namespace's own, and local
// port among `ports` (no value: any port, a selector without a port).
struct TimeWaitFilter {
  std::set<IpAddress> own_addresses;
  std::optional<std::set<uint16_t>> ports;
  bool matches(const TcpSocketId& s) const;
};

// The TCP ports `plan` redirects; nullopt when some TCP selector takes every port.
std::optional<std::set<uint16_t>> redirectedTcpPorts(const DatapathPlan& plan);
// The TCP ports of the selectors `before` had and `after` lacks (changed ones included): an
// empty set when nothing stops being redirected, nullopt for every port.
std::optional<std::set<uint16_t>> droppedTcpPorts(const DatapathPlan& before, const DatapathPlan& after);

// The netlink messages, for the tests: a dump of `family`'s TCP sockets in TIME_WAIT, and the
// SOCK_DESTROY of one of them (acknowledged).
std::vector<uint8_t> timeWaitDumpRequest(Family family, uint32_t seq);
std::vector<uint8_t> destroyRequest(const TcpSocketId& socket, uint32_t seq);

struct SweepResult {
  size_t matched = 0;
  size_t destroyed = 0;
  int refused_errno = 0;  // the first SOCK_DESTROY refusal (EOPNOTSUPP without INET_DIAG_DESTROY)
};

// Dumps TIME_WAIT sockets of both families in the calling thread's namespace and destroys the
// ones `ports` selects (the namespace's addresses read here). Errors: the dump failed.
Result<SweepResult> sweepTimeWait(const std::optional<std::set<uint16_t>>& ports, bool ipv6);

}  // namespace portcullis::datapath
