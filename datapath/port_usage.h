// Which local ports are taken: the seam between port allocation and the kernel, so unit
// tests can say "these ports are in use" without opening sockets.
#pragma once

#include <cstdint>
#include <set>
#include <string_view>

#include "common/result.h"

namespace portcullis::datapath {

class PortUsage {
 public:
  virtual ~PortUsage() = default;
  // Local ports of every TCP and UDP socket, IPv4 and IPv6 (/proc/net/{tcp,tcp6,udp,udp6}).
  virtual Result<std::set<uint16_t>> portsInUse() = 0;
  // Whether the port can be bound now on the listener addresses, for the protocols given.
  virtual bool canBind(uint16_t port, bool tcp, bool udp) = 0;
};

// The local ports in one /proc/net/{tcp,udp}[6] table ("sl local_address rem_address ...").
std::set<uint16_t> parseProcNetPorts(std::string_view table);

}  // namespace portcullis::datapath
