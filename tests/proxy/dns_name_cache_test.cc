#include "proxy/dns_name_cache.h"

#include <gtest/gtest.h>

namespace portcullis::proxy {
namespace {

using std::chrono::seconds;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

class DnsNameCacheTest : public ::testing::Test {
 protected:
  DnsNameCache::TimePoint t0_ = DnsNameCache::TimePoint() + std::chrono::hours(1);
};

TEST_F(DnsNameCacheTest, AddressesExpireWithTheirOwnTtl) {
  DnsNameCache cache(10);
  std::vector<DnsLearnedAddress> learned = {{ip("198.18.0.1"), 10}, {ip("2001:db8::1"), 30}};
  cache.learn("www.example.test.", learned, t0_);
  EXPECT_EQ(cache.lookup("www.example.test.", t0_ + seconds(9)),
            (std::vector<IpAddress>{ip("198.18.0.1"), ip("2001:db8::1")}));
  EXPECT_EQ(cache.lookup("www.example.test.", t0_ + seconds(10)),
            (std::vector<IpAddress>{ip("2001:db8::1")}));
  EXPECT_TRUE(cache.lookup("www.example.test.", t0_ + seconds(30)).empty());
  EXPECT_TRUE(cache.lookup("other.test.", t0_).empty());
  EXPECT_EQ(cache.size(), 1u);
  cache.purgeExpired(t0_ + seconds(29));
  EXPECT_EQ(cache.size(), 1u);
  cache.purgeExpired(t0_ + seconds(30));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(DnsNameCacheTest, ALaterAnswerRefreshesAndMerges) {
  DnsNameCache cache(10);
  cache.learn("a.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 10}}, t0_);
  cache.learn("a.test.",
              std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 10}, {ip("198.18.0.2"), 5}},
              t0_ + seconds(8));
  EXPECT_EQ(cache.lookup("a.test.", t0_ + seconds(12)),
            (std::vector<IpAddress>{ip("198.18.0.1"), ip("198.18.0.2")}));
  EXPECT_EQ(cache.lookup("a.test.", t0_ + seconds(14)), (std::vector<IpAddress>{ip("198.18.0.1")}));
  EXPECT_TRUE(cache.lookup("a.test.", t0_ + seconds(18)).empty());
}

TEST_F(DnsNameCacheTest, ZeroTtlsAreNotRecorded) {
  DnsNameCache cache(10);
  cache.learn("z.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 0}}, t0_);
  EXPECT_EQ(cache.size(), 0u);
  cache.learn("z.test.",
              std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 0}, {ip("198.18.0.2"), 3}}, t0_);
  EXPECT_EQ(cache.lookup("z.test.", t0_), (std::vector<IpAddress>{ip("198.18.0.2")}));
}

TEST_F(DnsNameCacheTest, WhenFullExpiredNamesGoFirstThenTheSoonestToExpire) {
  DnsNameCache cache(3);
  cache.learn("short.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 5}}, t0_);
  cache.learn("long.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.2"), 100}}, t0_);
  cache.learn("mid.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.3"), 50}}, t0_);
  // short.test has expired by now: it makes room without an eviction.
  cache.learn("new1.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.4"), 60}},
              t0_ + seconds(6));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 0u);
  // Full of live names: mid.test (expires at 50 s) is the closest to expiring.
  cache.learn("new2.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.5"), 60}},
              t0_ + seconds(7));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_TRUE(cache.lookup("mid.test.", t0_ + seconds(7)).empty());
  EXPECT_FALSE(cache.lookup("long.test.", t0_ + seconds(7)).empty());
  EXPECT_FALSE(cache.lookup("new1.test.", t0_ + seconds(7)).empty());
  EXPECT_FALSE(cache.lookup("new2.test.", t0_ + seconds(7)).empty());
  // Re-learning a held name never evicts.
  cache.learn("long.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.9"), 1}},
              t0_ + seconds(8));
  EXPECT_EQ(cache.evictions(), 1u);
}

TEST_F(DnsNameCacheTest, ANameKeepsItsLongestLivedAddressesUpToTheCap) {
  DnsNameCache cache(1);
  std::vector<DnsLearnedAddress> many;
  for (uint32_t i = 0; i < DnsNameCache::kMaxAddressesPerName + 8; ++i) {
    many.push_back({IpAddress::v4(0xc6120000 + i), 100 + i});
  }
  cache.learn("many.test.", many, t0_);
  auto held = cache.lookup("many.test.", t0_);
  ASSERT_EQ(held.size(), DnsNameCache::kMaxAddressesPerName);
  // The 8 shortest-lived (the first 8) were dropped.
  EXPECT_EQ(std::count(held.begin(), held.end(), IpAddress::v4(0xc6120000 + 7)), 0);
  EXPECT_EQ(std::count(held.begin(), held.end(), IpAddress::v4(0xc6120000 + 8)), 1);
}

// An answer as large as a TCP answer gets (3000 A records), with repeats far apart: each address
// is held once, with its last TTL, and the cap keeps the longest-lived, the earliest first among
// equals, as for a short answer.
TEST_F(DnsNameCacheTest, ALargeAnswerWithRepeatsKeepsEachAddressOnceWithItsLastTtl) {
  DnsNameCache cache(1);
  const auto nth = [](uint32_t i) { return IpAddress::v4(0xc6130000 + i); };
  std::vector<DnsLearnedAddress> big;
  for (uint32_t i = 0; i < 3000; ++i) big.push_back({nth(i), 60});
  big.push_back({nth(5), 600});  // lives longest now
  big.push_back({nth(1), 10});   // shortest now: drops out of the 32
  cache.learn("big.test.", big, t0_);
  std::vector<IpAddress> expected = {nth(5), nth(0), nth(2), nth(3), nth(4)};
  for (uint32_t i = 6; i <= 32; ++i) expected.push_back(nth(i));
  ASSERT_EQ(expected.size(), DnsNameCache::kMaxAddressesPerName);
  EXPECT_EQ(cache.lookup("big.test.", t0_), expected);
  EXPECT_EQ(cache.lookup("big.test.", t0_ + seconds(60)), std::vector<IpAddress>{nth(5)});
}

TEST_F(DnsNameCacheTest, SnapshotIsSortedAndSkipsExpired) {
  DnsNameCache cache(10);
  cache.learn("b.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.2"), 10}}, t0_);
  cache.learn("a.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 10}}, t0_);
  cache.learn("c.test.", std::vector<DnsLearnedAddress>{{ip("198.18.0.3"), 1}}, t0_);
  auto snap = cache.snapshot(t0_ + seconds(2));
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].name, "a.test.");
  EXPECT_EQ(snap[1].name, "b.test.");
  ASSERT_EQ(snap[1].addresses.size(), 1u);
  EXPECT_EQ(snap[1].addresses[0].address, ip("198.18.0.2"));
  EXPECT_EQ(snap[1].addresses[0].expires, t0_ + seconds(10));
}

}  // namespace
}  // namespace portcullis::proxy
