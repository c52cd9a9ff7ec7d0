#include "proxy/dns_verdict_cache.h"

#include <gtest/gtest.h>

#include "proxy/dns_message.h"
#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy {
namespace {

DnsWireName wireName(std::string_view name) {
  const auto encoded = testing::encodeName(name);
  return DnsWireName(encoded.begin(), encoded.end());
}

policy::Flow flow(const char* source, const char* destination, uint16_t port = 53,
                  policy::Direction direction = policy::Direction::kEgress) {
  return {direction, *IpAddress::parse(source), *IpAddress::parse(destination), port,
          policy::Protocol::kUdp};
}

const policy::NameVerdict kAllowed{true, "rule-a"};

TEST(DnsVerdictCache, FindsAStoredVerdictWhateverTheNamesCase) {
  DnsVerdictCache cache;
  const auto f = flow("198.18.1.2", "198.18.2.2");
  EXPECT_EQ(cache.find(f, wireName("www.example.test")), nullptr);
  cache.store(f, wireName("WWW.Example.test"), kAllowed);
  const policy::NameVerdict* hit = cache.find(f, wireName("www.EXAMPLE.test"));
  ASSERT_NE(hit, nullptr);
  EXPECT_TRUE(hit->allowed);
  EXPECT_EQ(hit->rule, "rule-a");
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(DnsVerdictCache, AnotherFlowOrNameIsAMiss) {
  DnsVerdictCache cache;
  const auto f = flow("198.18.1.2", "198.18.2.2");
  cache.store(f, wireName("www.example.test"), kAllowed);
  EXPECT_EQ(cache.find(flow("198.18.1.3", "198.18.2.2"), wireName("www.example.test")), nullptr);
  EXPECT_EQ(cache.find(flow("198.18.1.2", "198.18.2.3"), wireName("www.example.test")), nullptr);
  EXPECT_EQ(cache.find(flow("198.18.1.2", "198.18.2.2", 5353), wireName("www.example.test")),
            nullptr);
  EXPECT_EQ(cache.find(flow("198.18.1.2", "198.18.2.2", 53, policy::Direction::kIngress),
                       wireName("www.example.test")),
            nullptr);
  EXPECT_EQ(cache.find(flow("2001:db8:1::2", "198.18.2.2"), wireName("www.example.test")), nullptr);
  EXPECT_EQ(cache.find(f, wireName("ww.example.test")), nullptr);
  EXPECT_EQ(cache.find(f, wireName("www.example.tesu")), nullptr);
  EXPECT_NE(cache.find(f, wireName("www.example.test")), nullptr);
}

TEST(DnsVerdictCache, ClearForgetsEverything) {
  DnsVerdictCache cache;
  const auto f = flow("198.18.1.2", "198.18.2.2");
  cache.store(f, wireName("a.test"), kAllowed);
  cache.store(f, wireName("b.test"), {});
  cache.clear();
  EXPECT_EQ(cache.find(f, wireName("a.test")), nullptr);
  EXPECT_EQ(cache.find(f, wireName("b.test")), nullptr);
  cache.store(f, wireName("a.test"), {});
  ASSERT_NE(cache.find(f, wireName("a.test")), nullptr);
  EXPECT_FALSE(cache.find(f, wireName("a.test"))->allowed);
}

TEST(DnsVerdictCache, ACollisionReplacesTheOlderEntry) {
  DnsVerdictCache cache(1);  // one slot: every key collides
  const auto f = flow("198.18.1.2", "198.18.2.2");
  cache.store(f, wireName("a.test"), kAllowed);
  cache.store(f, wireName("b.test"), {});
  EXPECT_EQ(cache.find(f, wireName("a.test")), nullptr);
  ASSERT_NE(cache.find(f, wireName("b.test")), nullptr);
  EXPECT_FALSE(cache.find(f, wireName("b.test"))->allowed);
}

TEST(DnsVerdictCache, TheLongestNameIsKept) {
  // Three 63-byte labels and a 61-byte one: 255 bytes on the wire, the most RFC 1035 allows.
  std::string name;
  for (int i = 0; i < 3; ++i) name += std::string(63, 'a') + ".";
  name += std::string(61, 'b');
  const DnsWireName wire = wireName(name);
  ASSERT_EQ(wire.size(), 255u);
  DnsVerdictCache cache;
  const auto f = flow("198.18.1.2", "198.18.2.2");
  cache.store(f, wire, kAllowed);
  EXPECT_NE(cache.find(f, wire), nullptr);
}

}  // namespace
}  // namespace portcullis::proxy
