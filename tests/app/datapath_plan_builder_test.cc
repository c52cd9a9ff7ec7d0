#include "app/datapath_plan_builder.h"

#include <gtest/gtest.h>

namespace portcullis::app {
namespace {

using policy::Direction;
using policy::L7Protocol;
using policy::Protocol;

policy::Rule rule(const char* name, Direction d, L7Protocol l7, std::vector<policy::PortProtocol> ports) {
  policy::Rule r;
  r.name = name;
  r.direction = d;
  r.l7 = l7;
  r.selector.ports = std::move(ports);
  return r;
}

TEST(DatapathPlanBuilder, NeedsOneListenerPerKindAndDirectionInAFixedOrder) {
  policy::Policy p;
  p.rules = {rule("t", Direction::kEgress, L7Protocol::kTls, {{443, Protocol::kTcp}}),
             rule("d", Direction::kEgress, L7Protocol::kDns, {{53, Protocol::kAny}}),
             rule("h2", Direction::kIngress, L7Protocol::kHttp, {{8080, Protocol::kTcp}}),
             rule("h1", Direction::kEgress, L7Protocol::kHttp, {{80, Protocol::kTcp}}),
             rule("h3", Direction::kEgress, L7Protocol::kHttp, {{81, Protocol::kTcp}})};
  const auto requests = listenerRequests(p, {{"portcullis-dns-egress", 15503}});
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].listener, "portcullis-http-egress");
  EXPECT_EQ(requests[1].listener, "portcullis-http-ingress");
  EXPECT_EQ(requests[2].listener, "portcullis-dns-egress");
  EXPECT_EQ(requests[3].listener, "portcullis-tls-egress");
  EXPECT_TRUE(requests[2].tcp && requests[2].udp);  // DNS: both, on one port
  EXPECT_EQ(requests[2].preferred, 15503);
  EXPECT_TRUE(requests[0].tcp && !requests[0].udp);
  EXPECT_TRUE(requests[3].tcp && !requests[3].udp);
}

TEST(DatapathPlanBuilder, TranslatesSelectorsPortByPortAndProtocolByProtocol) {
  policy::Config config;
  config.datapath.route_table = 3000;
  config.datapath.rule_priority = 11;
  config.datapath.ipv6 = false;
  config.proxy.bind_v4 = IpAddress::v4(0x7f000002);
  policy::Policy p;
  auto web = rule("web", Direction::kEgress, L7Protocol::kHttp, {{80, Protocol::kTcp}, {8080, Protocol::kAny}});
  web.selector.interfaces = {"veth+"};
  web.selector.source_cidrs = {*Cidr::parse("198.18.1.0/24")};
  web.selector.uids = {1000};
  auto dns = rule("dns", Direction::kIngress, L7Protocol::kDns, {{53, Protocol::kAny}});
  p.rules = {web, dns};
  const auto plan = buildDatapathPlan(config, p, {{"portcullis-http-egress", 12000}, {"portcullis-dns-ingress", 12001}});
  EXPECT_EQ(plan.route_table, 3000u);
  EXPECT_EQ(plan.rule_priority, 11u);
  EXPECT_FALSE(plan.ipv6);
  EXPECT_EQ(plan.bind_v4.toString(), "127.0.0.2");
  ASSERT_EQ(plan.listeners.size(), 2u);
  EXPECT_EQ(plan.listeners[0], (datapath::Listener{"portcullis-http-egress", 12000, true, false}));
  EXPECT_EQ(plan.listeners[1], (datapath::Listener{"portcullis-dns-ingress", 12001, true, true}));
  // web: 80/TCP and 8080/TCP (its UDP half has no HTTP listener to go to); dns: TCP and UDP.
  ASSERT_EQ(plan.classifications.size(), 4u);
  const auto& c = plan.classifications[1];
  EXPECT_EQ(c.rule, "web");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.protocol, datapath::IpProtocol::kTcp);
  EXPECT_EQ(c.interfaces, std::vector<std::string>{"veth+"});
  EXPECT_EQ(c.sources, std::vector<Cidr>{*Cidr::parse("198.18.1.0/24")});
  EXPECT_EQ(c.uids, std::vector<uint32_t>{1000});
  EXPECT_EQ(c.listener, "portcullis-http-egress");
  EXPECT_EQ(plan.classifications[2].protocol, datapath::IpProtocol::kTcp);
  EXPECT_EQ(plan.classifications[3].protocol, datapath::IpProtocol::kUdp);
  EXPECT_EQ(plan.classifications[3].direction, datapath::TrafficDirection::kIngress);
  EXPECT_EQ(plan.classifications[3].listener, "portcullis-dns-ingress");
}

}  // namespace
}  // namespace portcullis::app
