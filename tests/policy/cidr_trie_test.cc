#include "policy/cidr_trie.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "tests/policy/rule_builders.h"

namespace portcullis::policy {
namespace {

using builders::cidr;
using builders::ip;
using Values = std::vector<uint32_t>;

Values longest(const CidrTrie& trie, const char* address) {
  auto span = trie.longestMatch(ip(address));
  return Values(span.begin(), span.end());
}

// Each containing prefix's values, shortest prefix first.
std::vector<Values> path(const CidrTrie& trie, const char* address) {
  std::vector<Values> out;
  trie.forEachMatch(ip(address),
                    [&](std::span<const uint32_t> v) { out.emplace_back(v.begin(), v.end()); });
  return out;
}

struct Insert {
  const char* prefix;
  uint32_t value;
};
struct Lookup {
  const char* address;
  Values longest;
};

CidrTrie build(const std::vector<Insert>& inserts) {
  CidrTrie trie;
  for (const auto& i : inserts) trie.insert(cidr(i.prefix), i.value);
  trie.freeze();
  return trie;
}

TEST(CidrTrie, LongestPrefixV4) {
  // Inserted longest first, so later inserts must split compressed edges.
  const CidrTrie trie = build({{"10.1.2.3/32", 4},
                               {"10.1.2.0/24", 3},
                               {"10.1.0.0/16", 2},
                               {"10.0.0.0/8", 1},
                               {"10.1.0.0/16", 6},
                               {"192.168.0.0/16", 5},
                               {"10.128.0.0/9", 7},
                               {"0.0.0.0/0", 0},
                               {"10.1.2.0/24", 3}});
  const std::vector<Lookup> cases = {
      {"10.1.2.3", {4}},        {"10.1.2.4", {3}},       {"10.1.3.1", {2, 6}}, {"10.2.0.0", {1}},
      {"10.200.0.1", {7}},      {"10.127.255.255", {1}}, {"11.0.0.0", {0}},    {"192.168.5.5", {5}},
      {"255.255.255.255", {0}}, {"0.0.0.0", {0}},
  };
  for (const auto& c : cases) EXPECT_EQ(longest(trie, c.address), c.longest) << c.address;
}

TEST(CidrTrie, OverlappingPrefixesAreAllVisitedShortestFirst) {
  const CidrTrie trie = build({{"10.1.2.0/24", 3},
                               {"0.0.0.0/0", 0},
                               {"10.0.0.0/8", 1},
                               {"10.1.0.0/16", 2},
                               {"10.1.0.0/16", 6},
                               {"10.1.2.3/32", 4}});
  EXPECT_EQ(path(trie, "10.1.2.3"), (std::vector<Values>{{0}, {1}, {2, 6}, {3}, {4}}));
  EXPECT_EQ(path(trie, "10.1.9.9"), (std::vector<Values>{{0}, {1}, {2, 6}}));
  EXPECT_EQ(path(trie, "9.1.2.3"), (std::vector<Values>{{0}}));
}

TEST(CidrTrie, DisjointSiblingsWithoutDefault) {
  const CidrTrie trie = build({{"198.18.1.0/24", 1}, {"198.18.2.0/24", 2}, {"198.18.2.128/25", 3}});
  EXPECT_EQ(longest(trie, "198.18.1.77"), Values{1});
  EXPECT_EQ(longest(trie, "198.18.2.1"), Values{2});
  EXPECT_EQ(longest(trie, "198.18.2.200"), Values{3});
  EXPECT_EQ(longest(trie, "198.18.3.1"), Values{});
  EXPECT_EQ(longest(trie, "198.19.1.77"), Values{});
  EXPECT_TRUE(path(trie, "198.18.0.1").empty());
}

TEST(CidrTrie, LongestPrefixV6) {
  const CidrTrie trie = build({{"2001:db8:1::1/128", 4},
                               {"2001:db8::/32", 1},
                               {"::/0", 0},
                               {"2001:db8:1::/48", 2},
                               {"2001:db8:1:8000::/49", 3},
                               {"2001:db8:ffff::/48", 5}});
  const std::vector<Lookup> cases = {
      {"2001:db8:1::1", {4}},
      {"2001:db8:1::2", {2}},
      {"2001:db8:1:8000::9", {3}},
      {"2001:db8:2::1", {1}},
      {"2001:db8:ffff:1::", {5}},
      {"2001:db9::1", {0}},
      {"::", {0}},
  };
  for (const auto& c : cases) EXPECT_EQ(longest(trie, c.address), c.longest) << c.address;
  EXPECT_EQ(path(trie, "2001:db8:1::1"), (std::vector<Values>{{0}, {1}, {2}, {4}}));
}

TEST(CidrTrie, FamiliesAreSeparate) {
  const CidrTrie trie = build({{"::/0", 6}, {"0.0.0.0/0", 4}, {"198.18.0.0/15", 1}});
  EXPECT_EQ(longest(trie, "198.18.0.1"), Values{1});
  EXPECT_EQ(longest(trie, "2001:db8::1"), Values{6});
  EXPECT_EQ(path(trie, "198.18.0.1"), (std::vector<Values>{{4}, {1}}));
  // The IPv4 bytes of ::c612:1 are 198.18.0.1, but it is an IPv6 address.
  EXPECT_EQ(longest(trie, "::c612:1"), Values{6});
}

// Random prefixes around a few anchors (so they nest and diverge at every depth) against a
// linear scan with Cidr::contains.
void checkAgainstLinearScan(bool v6, uint32_t seed) {
  std::mt19937 rng(seed);
  const int bits = v6 ? 128 : 32;
  auto randomAddress = [&](const std::array<uint8_t, 16>& anchor) {
    std::array<uint8_t, 16> b = anchor;
    // Keep a random-length prefix of the anchor, randomise the rest.
    const int keep = std::uniform_int_distribution<int>(0, bits)(rng);
    for (int i = keep; i < bits; ++i) {
      const uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
      if (rng() & 1)
        b[i / 8] |= mask;
      else
        b[i / 8] &= static_cast<uint8_t>(~mask);
    }
    if (!v6)
      return IpAddress::v4((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) |
                           b[3]);
    return IpAddress::v6(b);
  };
  std::vector<std::array<uint8_t, 16>> anchors(3);
  for (auto& a : anchors)
    for (auto& byte : a) byte = static_cast<uint8_t>(rng());

  std::vector<std::pair<Cidr, uint32_t>> stored;
  CidrTrie trie;
  for (uint32_t value = 0; value < 400; ++value) {
    const Cidr c(randomAddress(anchors[value % 3]),
                 std::uniform_int_distribution<int>(0, bits)(rng));
    stored.emplace_back(c, value);
    trie.insert(c, value);
  }
  trie.freeze();
  int hits = 0;
  for (int n = 0; n < 2000; ++n) {
    const IpAddress a = randomAddress(anchors[n % 3]);
    std::set<uint32_t> expected;
    int longest_length = -1;
    std::set<uint32_t> expected_longest;
    for (const auto& [c, value] : stored) {
      if (!c.contains(a)) continue;
      expected.insert(value);
      if (c.prefixLength() > longest_length) {
        longest_length = c.prefixLength();
        expected_longest.clear();
      }
      if (c.prefixLength() == longest_length) expected_longest.insert(value);
    }
    hits += expected.size() > 1;
    std::set<uint32_t> got;
    trie.forEachMatch(a, [&](std::span<const uint32_t> v) { got.insert(v.begin(), v.end()); });
    ASSERT_EQ(got, expected) << a.toString();
    const auto span = trie.longestMatch(a);
    ASSERT_EQ(std::set<uint32_t>(span.begin(), span.end()), expected_longest) << a.toString();
  }
  EXPECT_GT(hits, 500) << "too few nested matches to exercise the trie";
}

TEST(CidrTrie, MatchesLinearScanV4) { checkAgainstLinearScan(false, 1); }
TEST(CidrTrie, MatchesLinearScanV6) { checkAgainstLinearScan(true, 2); }

}  // namespace
}  // namespace portcullis::policy
