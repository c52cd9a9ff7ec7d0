#include "proxy/asio_address.h"

#include <gtest/gtest.h>

namespace portcullis::proxy {
namespace {

namespace ip = boost::asio::ip;

IpAddress parsed(const char* text) { return IpAddress::parse(text).value(); }

TEST(AsioAddressTest, ToAsioKeepsTheFamilyAndBytes) {
  EXPECT_EQ(toAsio(parsed("198.18.0.1")), ip::make_address("198.18.0.1"));
  EXPECT_EQ(toAsio(parsed("2001:db8::1")), ip::make_address("2001:db8::1"));
  EXPECT_EQ(toAsio(parsed("::")), ip::make_address("::"));
  EXPECT_TRUE(toAsio(parsed("::")).is_v6());
}

TEST(AsioAddressTest, FromAsioIsTheInverseOfToAsio) {
  for (const char* text : {"198.18.0.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1"}) {
    EXPECT_EQ(fromAsio(ip::make_address(text)), parsed(text)) << text;
    EXPECT_EQ(fromAsio(toAsio(parsed(text))), parsed(text)) << text;
  }
}

TEST(AsioAddressTest, FromAsioKeepsAMappedAddressIpv6) {
  const IpAddress a = fromAsio(ip::make_address("::ffff:198.18.0.1"));
  EXPECT_FALSE(a.isV4());
  EXPECT_EQ(a, parsed("::ffff:198.18.0.1"));
}

TEST(AsioAddressTest, UnmappedTurnsOnlyMappedAddressesIntoIpv4) {
  EXPECT_EQ(unmapped(ip::make_address("::ffff:198.18.0.1")), ip::make_address("198.18.0.1"));
  EXPECT_EQ(unmapped(ip::make_address("2001:db8::1")), ip::make_address("2001:db8::1"));
  EXPECT_EQ(unmapped(ip::make_address("198.18.0.1")), ip::make_address("198.18.0.1"));
  // IPv4-compatible (deprecated, ::a.b.c.d) is not mapped: it stays IPv6.
  EXPECT_TRUE(unmapped(ip::make_address("::198.18.0.1")).is_v6());
}

TEST(AsioAddressTest, FlowAddressUnmapsSoPolicySeesOneFamilyPerHost) {
  EXPECT_EQ(flowAddress(ip::make_address("::ffff:198.18.0.1")), parsed("198.18.0.1"));
  EXPECT_EQ(flowAddress(ip::make_address("198.18.0.1")), parsed("198.18.0.1"));
  EXPECT_EQ(flowAddress(ip::make_address("2001:db8::2")), parsed("2001:db8::2"));
}

}  // namespace
}  // namespace portcullis::proxy
