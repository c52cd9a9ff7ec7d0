#include "app/datapath_plan_builder.h"

#include <algorithm>

#include "common/log.h"

namespace portcullis::app {
namespace {

using policy::Direction;
using policy::L7Protocol;

// The fixed listener order: plans, payloads and logs come out the same on every run.
constexpr L7Protocol kKinds[] = {L7Protocol::kHttp, L7Protocol::kDns, L7Protocol::kTls};
constexpr Direction kDirections[] = {Direction::kEgress, Direction::kIngress};

bool udpListener(L7Protocol l7) { return l7 == L7Protocol::kDns; }

}  // namespace

std::string listenerName(L7Protocol l7, Direction direction) {
  return std::string("portcullis-") + policy::toString(l7) + "-" + policy::toString(direction);
}

std::vector<datapath::PortRequest> listenerRequests(const policy::Policy& policy,
                                                    const std::map<std::string, uint16_t>& preferred) {
  std::vector<datapath::PortRequest> out;
  for (L7Protocol l7 : kKinds) {
    for (Direction d : kDirections) {
      const bool used = std::any_of(policy.rules.begin(), policy.rules.end(), [&](const auto& r) {
        return r.l7 == l7 && r.direction == d;
      });
      if (!used) continue;
      const std::string name = listenerName(l7, d);
      const auto adopted = preferred.find(name);
      out.push_back({name, true, udpListener(l7), adopted == preferred.end() ? uint16_t{0} : adopted->second});
    }
  }
  return out;
}

datapath::DatapathPlan buildDatapathPlan(const policy::Config& config, const policy::Policy& policy,
                                         const std::map<std::string, uint16_t>& ports) {
  datapath::DatapathPlan plan;
  plan.bind_v4 = config.proxy.bind_v4;
  plan.bind_v6 = config.proxy.bind_v6;
  plan.route_table = config.datapath.route_table;
  plan.rule_priority = config.datapath.rule_priority;
  plan.ipv6 = config.datapath.ipv6;
  for (const auto& request : listenerRequests(policy)) {
    const auto port = ports.find(request.listener);
    if (port == ports.end()) continue;  // the caller allocates one per request
    plan.listeners.push_back({request.listener, port->second, request.tcp, request.udp});
  }
  for (const auto& rule : policy.rules) {
    const std::string listener = listenerName(rule.l7, rule.direction);
    if (plan.findListener(listener) == nullptr) continue;
    const auto& s = rule.selector;
    for (const auto& pp : s.ports) {
      for (auto protocol : {datapath::IpProtocol::kTcp, datapath::IpProtocol::kUdp}) {
        const bool wanted = pp.protocol == policy::Protocol::kAny ||
                            (pp.protocol == policy::Protocol::kTcp) == (protocol == datapath::IpProtocol::kTcp);
        if (!wanted) continue;
        // HTTP and TLS listeners have no UDP socket: a marked datagram would have nowhere to go.
        if (protocol == datapath::IpProtocol::kUdp && !udpListener(rule.l7)) {
          log::debug("rule ", rule.name, ": UDP port ", pp.port, " ignored for a TCP-only listener");
          continue;
        }
        datapath::Classification c;
        c.rule = rule.name;
        c.direction = rule.direction == Direction::kEgress ? datapath::TrafficDirection::kEgress
                                                           : datapath::TrafficDirection::kIngress;
        c.interfaces = s.interfaces;
        c.sources = s.source_cidrs;
        c.destinations = s.destination_cidrs;
        c.port = pp.port;
        c.protocol = protocol;
        c.cgroups = s.cgroups;
        c.uids = s.uids;
        c.listener = listener;
        plan.classifications.push_back(std::move(c));
      }
    }
  }
  return plan;
}

}  // namespace portcullis::app
