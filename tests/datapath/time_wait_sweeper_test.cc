#include "datapath/time_wait_sweeper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "tests/datapath/sample_plan.h"

namespace portcullis::datapath {
namespace {

using testing::cidr;
using testing::samplePlan;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TcpSocketId proxied(const char* local, uint16_t port = 80) {
  return {ip(local), port, ip("198.18.1.2"), 41001, 0, 0};
}

// Little-endian fields of the kernel ABI, read independently of linux/*.h (x86-64, aarch64).
uint16_t u16(const std::vector<uint8_t>& m, size_t at) { return static_cast<uint16_t>(m[at] | m[at + 1] << 8); }
uint32_t u32(const std::vector<uint8_t>& m, size_t at) { return u16(m, at) | uint32_t{u16(m, at + 2)} << 16; }

TEST(TimeWaitFilter, DestroysOnlyForeignLocalAddressesOnRedirectedPorts) {
  const TimeWaitFilter filter{{ip("198.18.1.1"), ip("198.18.2.1"), ip("2001:db8:1::1"), ip("127.0.0.1")},
                              std::set<uint16_t>{80, 53}};
  EXPECT_TRUE(filter.matches(proxied("198.18.2.2")));                 // a transparent accept
  EXPECT_TRUE(filter.matches(proxied("2001:db8:2::2")));
  EXPECT_TRUE(filter.matches(proxied("198.18.2.2", 53)));
  EXPECT_FALSE(filter.matches(proxied("198.18.2.1")));                // the node's own address
  EXPECT_FALSE(filter.matches(proxied("2001:db8:1::1")));
  EXPECT_FALSE(filter.matches(proxied("::ffff:198.18.2.1")));         // the same, dual-stack
  EXPECT_TRUE(filter.matches(proxied("::ffff:198.18.2.2")));
  EXPECT_FALSE(filter.matches(proxied("198.18.2.2", 8080)));          // a port never redirected
}

TEST(TimeWaitFilter, AnyPortWhenASelectorHasNone) {
  const TimeWaitFilter filter{{ip("198.18.2.1")}, std::nullopt};
  EXPECT_TRUE(filter.matches(proxied("198.18.2.2", 8080)));
  EXPECT_FALSE(filter.matches(proxied("198.18.2.1", 8080)));
}

TEST(RedirectedTcpPorts, TcpSelectorsOnly) {
  DatapathPlan plan = samplePlan();
  auto ports = redirectedTcpPorts(plan);
  ASSERT_TRUE(ports);
  EXPECT_TRUE(ports->contains(80));
  EXPECT_TRUE(ports->contains(53));
  EXPECT_TRUE(ports->contains(8080));
  EXPECT_TRUE(ports->contains(8443));
  EXPECT_EQ(ports->size(), 4u);
  plan.classifications.erase(
      std::remove_if(plan.classifications.begin(), plan.classifications.end(),
                     [](const Classification& c) { return c.protocol == IpProtocol::kTcp && c.port == 53; }),
      plan.classifications.end());
  ports = redirectedTcpPorts(plan);
  ASSERT_TRUE(ports);
  EXPECT_FALSE(ports->contains(53));  // UDP 53 stays, and is no TCP port
  plan.classifications.front().port = 0;
  EXPECT_FALSE(redirectedTcpPorts(plan));
  EXPECT_EQ(redirectedTcpPorts(DatapathPlan{}), std::set<uint16_t>{});
}

TEST(DroppedTcpPorts, WhatStopsBeingRedirected) {
  const DatapathPlan before = samplePlan();
  EXPECT_EQ(droppedTcpPorts(before, before), std::set<uint16_t>{});
  DatapathPlan after = before;
  after.classifications.erase(after.classifications.begin());  // web-egress, port 80
  EXPECT_EQ(droppedTcpPorts(before, after), std::set<uint16_t>{80});
  EXPECT_EQ(droppedTcpPorts(after, before), std::set<uint16_t>{});  // added: nothing to sweep
  after = before;
  after.classifications.front().sources = {cidr("198.18.1.0/25")};  // narrowed: some flows leave
  EXPECT_EQ(droppedTcpPorts(before, after), std::set<uint16_t>{80});
  after = before;
  std::erase_if(after.classifications, [](const Classification& c) { return c.protocol == IpProtocol::kUdp; });
  EXPECT_EQ(droppedTcpPorts(before, after), std::set<uint16_t>{});
  DatapathPlan any = before;
  any.classifications.front().port = 0;
  EXPECT_FALSE(droppedTcpPorts(any, before));
  EXPECT_EQ(droppedTcpPorts(before, DatapathPlan{}), (std::set<uint16_t>{53, 80, 8080, 8443}));
}

TEST(TimeWaitDumpRequest, AsksForTcpInTimeWaitOfOneFamily) {
  const auto m = timeWaitDumpRequest(Family::kV6, 7);
  ASSERT_EQ(m.size(), 72u);       // nlmsghdr (16) + inet_diag_req_v2 (56)
  EXPECT_EQ(u32(m, 0), 72u);      // nlmsg_len
  EXPECT_EQ(u16(m, 4), 20u);      // SOCK_DIAG_BY_FAMILY
  EXPECT_EQ(u16(m, 6), 0x301u);   // NLM_F_REQUEST | NLM_F_DUMP
  EXPECT_EQ(u32(m, 8), 7u);       // seq
  EXPECT_EQ(m[16], 10u);          // AF_INET6
  EXPECT_EQ(m[17], 6u);           // IPPROTO_TCP
  EXPECT_EQ(u32(m, 20), 1u << 6);  // TCP_TIME_WAIT only
  for (size_t i = 24; i < m.size(); ++i) EXPECT_EQ(m[i], 0u) << i;  // any socket id
  EXPECT_EQ(timeWaitDumpRequest(Family::kV4, 1)[16], 2u);            // AF_INET
}

TEST(DestroyRequest, NamesTheDumpedSocketExactly) {
  TcpSocketId s{ip("198.18.2.2"), 80, ip("198.18.1.2"), 41001, 3, 0x1122334455667788ull};
  const auto m = destroyRequest(s, 9);
  ASSERT_EQ(m.size(), 72u);
  EXPECT_EQ(u16(m, 4), 21u);     // SOCK_DESTROY
  EXPECT_EQ(u16(m, 6), 0x5u);    // NLM_F_REQUEST | NLM_F_ACK
  EXPECT_EQ(u32(m, 8), 9u);
  EXPECT_EQ(m[16], 2u);          // AF_INET
  EXPECT_EQ(m[17], 6u);
  EXPECT_EQ(m[24], 0u);          // sport 80, network order
  EXPECT_EQ(m[25], 80u);
  EXPECT_EQ(m[26], 41001 >> 8);  // dport
  EXPECT_EQ(m[27], 41001 & 0xff);
  EXPECT_EQ((std::vector<uint8_t>(m.begin() + 28, m.begin() + 32)), (std::vector<uint8_t>{198, 18, 2, 2}));
  EXPECT_EQ((std::vector<uint8_t>(m.begin() + 44, m.begin() + 48)), (std::vector<uint8_t>{198, 18, 1, 2}));
  EXPECT_EQ(u32(m, 60), 3u);     // interface
  uint64_t cookie = 0;
  std::memcpy(&cookie, m.data() + 64, 8);
  EXPECT_EQ(cookie, s.cookie);

  s.local = ip("2001:db8:2::2");
  s.remote = ip("2001:db8:1::2");
  const auto v6 = destroyRequest(s, 10);
  EXPECT_EQ(v6[16], 10u);
  EXPECT_EQ(v6[28], 0x20);
  EXPECT_EQ(v6[43], 2u);  // last byte of 2001:db8:2::2
  EXPECT_EQ(v6[59], 2u);  // last byte of 2001:db8:1::2
}

}  // namespace
}  // namespace portcullis::datapath
