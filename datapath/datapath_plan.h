// What the datapath must install, as pure data: listeners with their ports and marks, the
// classification entries that send traffic to them, and the routing parameters. Built by
// app/ from the policy (datapath/ never sees policy/ types); rendered by payload_renderer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "datapath/marks.h"

namespace portcullis::datapath {

enum class IpProtocol : uint8_t { kTcp, kUdp };
enum class TrafficDirection : uint8_t { kEgress, kIngress };

const char* toString(IpProtocol p);        // "tcp", "udp" (iptables -p syntax)
const char* toString(TrafficDirection d);  // "egress", "ingress"

struct Listener {
  std::string name;  // "portcullis-http-egress": named in its TPROXY rule's comment
  uint16_t port = 0;
  bool tcp = true;
  bool udp = false;
  uint32_t mark() const { return listenerMark(port); }
  bool operator==(const Listener&) const = default;
};

// One selector port of one policy rule. Empty lists mean "any". cgroups and uids select local
// processes (the OUTPUT path) and are alternatives: a packet matches when its socket belongs to
// any listed cgroup or any listed uid.
struct Classification {
  std::string rule;  // the policy rule's name, for the comment
  TrafficDirection direction = TrafficDirection::kEgress;
  std::vector<std::string> interfaces;  // iptables -i (PREROUTING) / -o (OUTPUT) syntax
  std::vector<Cidr> sources;
  std::vector<Cidr> destinations;
  uint16_t port = 0;
  IpProtocol protocol = IpProtocol::kTcp;
  std::vector<std::string> cgroups;
  std::vector<uint32_t> uids;
  std::string listener;  // target listener name
  bool local() const { return !cgroups.empty() || !uids.empty(); }
  bool operator==(const Classification&) const = default;
};

struct DatapathPlan {
  std::vector<Listener> listeners;
  std::vector<Classification> classifications;  // in policy order: the first match wins
  IpAddress bind_v4 = IpAddress::v4(0x7f000001);
  IpAddress bind_v6 = IpAddress::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  uint32_t route_table = 2004;
  uint32_t rule_priority = 9;
  bool ipv6 = true;

  const Listener* findListener(const std::string& name) const {
    for (const auto& l : listeners)
      if (l.name == name) return &l;
    return nullptr;
  }
  bool operator==(const DatapathPlan&) const = default;
};

}  // namespace portcullis::datapath
