// PortUsage from procfs and bind tests on the TPROXY bind addresses.
#pragma once

#include <string>

#include "common/ip_address.h"
#include "datapath/port_usage.h"

namespace portcullis::datapath {

class SystemPortUsage final : public PortUsage {
 public:
  // bind_v6 is tested only when ipv6 is on.
  SystemPortUsage(IpAddress bind_v4, IpAddress bind_v6, bool ipv6, std::string proc_net = "/proc/net")
      : bind_v4_(bind_v4), bind_v6_(bind_v6), ipv6_(ipv6), proc_net_(std::move(proc_net)) {}
  Result<std::set<uint16_t>> portsInUse() override;
  bool canBind(uint16_t port, bool tcp, bool udp) override;

 private:
  IpAddress bind_v4_;
  IpAddress bind_v6_;
  bool ipv6_;
  std::string proc_net_;
};

}  // namespace portcullis::datapath
