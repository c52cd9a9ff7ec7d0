#include "common/ip_address.h"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("198.18.1.2");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->isV4());
  EXPECT_EQ(v4->v4HostOrder(), 0xc6120102u);
  EXPECT_EQ(v4->toString(), "198.18.1.2");
  auto v6 = IpAddress::parse("2001:DB8::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->isV4());
  EXPECT_EQ(v6->toString(), "2001:db8::1");
}

TEST(IpAddress, RejectsGarbage) {
  for (const char* bad : {"", "198.18.1", "198.18.1.256", "[::1]", "::1%lo", "2001:db8:::1", "x"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(Cidr, ParsesClearsHostBitsAndContains) {
  auto c = Cidr::parse("198.19.255.1/15");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->toString(), "198.18.0.0/15");
  EXPECT_TRUE(c->contains(*IpAddress::parse("198.18.0.1")));
  EXPECT_TRUE(c->contains(*IpAddress::parse("198.19.255.255")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("198.20.0.0")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("2001:db8::1")));  // other family

  auto v6 = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddress::parse("2001:db8:ffff::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("2001:db9::1")));

  auto host = Cidr::parse("198.18.0.7");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefixLength(), 32);
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->toString(), "0.0.0.0/0");
  EXPECT_TRUE(Cidr::parse("::/0")->contains(*IpAddress::parse("2001:db8::1")));
}

TEST(Cidr, RejectsBadPrefixes) {
  for (const char* bad : {"198.18.0.0/33", "198.18.0.0/", "198.18.0.0/-1", "2001:db8::/129",
                          "198.18.0.0/1x", "/8", "198.18.0.0/0008"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace portcullis
