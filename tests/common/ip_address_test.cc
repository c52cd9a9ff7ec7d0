#include "common/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>

namespace portcullis {
namespace {

std::string ntop(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN];
  EXPECT_NE(inet_ntop(a.isV4() ? AF_INET : AF_INET6, a.bytes().data(), buf, sizeof buf), nullptr);
  return buf;
}

// What the access log uses: appended after what is already there.
std::string text(const IpAddress& a) {
  std::string out = "x";
  a.appendTo(out);
  EXPECT_EQ(out.substr(1), a.toString());
  return out.substr(1);
}

TEST(IpAddressText, EdgeCasesAsInetNtop) {
  for (const char* s : {"0.0.0.0", "255.255.255.255", "198.18.1.2", "10.0.100.9", "::", "::1",
                        "1::", "2001:db8::2", "2001:db8:0:0:1:0:0:1", "2001:0:0:1:0:0:0:1",
                        "1:0:1:0:1:0:1:0", "::ffff:198.18.1.2", "::198.18.1.2", "::ffff:0:1",
                        "0:0:0:0:0:1:2:3", "fe80::abcd:ef01", "1:2:3:4:5:6:7:8",
                        "::ffff:ffff:ffff", "ffff::ffff:1.2.3.4", "0:1::"}) {
    const auto address = IpAddress::parse(s);
    ASSERT_TRUE(address) << s;
    EXPECT_EQ(text(*address), ntop(*address)) << s;
  }
}

TEST(IpAddressText, RandomAddressesAsInetNtop) {
  std::mt19937 rng(7);
  // Words drawn mostly from 0 and 0xffff, so that zero runs of every length and place occur.
  std::uniform_int_distribution<int> pick(0, 9);
  for (int n = 0; n < 20000; ++n) {
    std::array<uint8_t, 16> b{};
    for (int w = 0; w < 8; ++w) {
      const int k = pick(rng);
      const unsigned v = k < 5 ? 0 : k == 5 ? 0xffff : k == 6 ? (rng() & 0xf) : (rng() & 0xffff);
      b[2 * w] = static_cast<uint8_t>(v >> 8);
      b[2 * w + 1] = static_cast<uint8_t>(v);
    }
    const IpAddress v6 = IpAddress::v6(b);
    ASSERT_EQ(text(v6), ntop(v6));
    const IpAddress v4 = IpAddress::v4(static_cast<uint32_t>(rng()) >> (rng() % 32));
    ASSERT_EQ(text(v4), ntop(v4));
  }
}

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
