#include "policy/regex_set.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace portcullis::policy {
namespace {

using Ids = std::vector<int>;

Ids matchAll(const RegexSet& set, std::string_view text) {
  Ids ids;
  set.match(text, ids);
  return ids;
}

RegexSet compiled(std::vector<std::string> patterns, RegexSet::Options options = {}) {
  RegexSet set(options);
  for (const auto& p : patterns) EXPECT_TRUE(set.add(p).ok()) << p;
  EXPECT_EQ(set.compile(), "");
  return set;
}

TEST(RegexSet, AnchoredAtBothEndsWithIdsSharedByIdenticalPatterns) {
  RegexSet set({});
  EXPECT_EQ(set.add("GET|HEAD").id, 0);
  EXPECT_EQ(set.add("/public/.*").id, 1);
  EXPECT_EQ(set.add("GET|HEAD").id, 0);
  EXPECT_EQ(set.add("P(OST|UT)").id, 2);
  EXPECT_EQ(set.add(".*").id, 3);
  ASSERT_EQ(set.compile(), "");
  ASSERT_TRUE(set.usesSet());
  EXPECT_EQ(set.size(), 4u);
  struct Case {
    const char* text;
    Ids ids;
  };
  const Case cases[] = {
      {"GET", {0, 3}},           {"HEAD", {0, 3}},  {"GETX", {3}},   {"XGET", {3}}, {"get", {3}},
      {"/public/a?b=c", {1, 3}}, {"/publicx", {3}}, {"PUT", {2, 3}}, {"", {3}},
  };
  for (const Case& c : cases) EXPECT_EQ(matchAll(set, c.text), c.ids) << c.text;
}

TEST(RegexSet, CaseInsensitiveOption) {
  const RegexSet set = compiled({"example\\.test", "api\\..*", "x"}, {.case_sensitive = false});
  EXPECT_EQ(matchAll(set, "EXAMPLE.Test"), Ids{0});
  EXPECT_EQ(matchAll(set, "Api.example.test"), Ids{1});
  EXPECT_EQ(matchAll(set, "example.test.org"), Ids{});
}

TEST(RegexSet, InvalidPatternIsReported) {
  RegexSet set({});
  const RegexSet::Added added = set.add("(unclosed");
  EXPECT_FALSE(added.ok());
  EXPECT_EQ(added.id, -1);
  EXPECT_NE(added.error.find("missing )"), std::string::npos) << added.error;
  EXPECT_EQ(set.size(), 0u);
}

TEST(RegexSet, Latin1MatchesBytes) {
  const RegexSet set = compiled({"a[.]b", "[^.]*", "\\xff"}, {.latin1 = true});
  EXPECT_EQ(matchAll(set, "a.b"), Ids{0});
  EXPECT_EQ(matchAll(set, std::string("\xff")), (Ids{1, 2}));
  EXPECT_EQ(matchAll(set, std::string("\xc3\xa9\xff")), Ids{1});
}

// Sets of thousands of patterns do not compile at RE2's default budget; compile() starts low
// when told to and doubles until they fit, or reports the limit.
TEST(RegexSet, BudgetGrowsUntilTheSetCompiles) {
  std::vector<std::string> patterns;
  for (int i = 0; i < 3000; ++i) {
    patterns.push_back("(?:www\\.)?svc" + std::to_string(i) + "\\.ns" + std::to_string(i % 50) +
                       "\\.example\\.test");
  }
  const RegexSet grown = compiled(patterns, {.case_sensitive = false, .max_mem = int64_t{1} << 20});
  ASSERT_TRUE(grown.usesSet());
  EXPECT_GT(grown.maxMem(), int64_t{1} << 20);
  EXPECT_EQ(matchAll(grown, "WWW.svc2999.ns49.example.test"), Ids{2999});
  EXPECT_EQ(matchAll(grown, "svc3000.ns0.example.test"), Ids{});

  RegexSet capped({.max_mem = int64_t{1} << 20, .max_mem_limit = int64_t{2} << 20});
  for (const auto& p : patterns) ASSERT_TRUE(capped.add(p).ok());
  const std::string error = capped.compile();
  EXPECT_NE(error.find("3000 patterns do not fit the regex memory limit of 2 MiB"),
            std::string::npos)
      << error;
}

// The one-by-one path (used for small sets, and when the DFA fails) answers exactly as the set.
TEST(RegexSet, OneByOneMatchingAgreesWithTheSet) {
  std::mt19937 rng(7);
  const std::vector<std::string> atoms = {"a", "b", "ab", ".", "[ab]", "a*", "(a|bb)", "b+", "x?"};
  std::vector<std::string> patterns;
  for (int i = 0; i < 300; ++i) {
    std::string p;
    for (int n = 1 + rng() % 4; n > 0; --n) p += atoms[rng() % atoms.size()];
    patterns.push_back(p);
  }
  const RegexSet with_set = compiled(patterns);
  const RegexSet one_by_one = compiled(patterns, {.set_threshold = SIZE_MAX});
  ASSERT_TRUE(with_set.usesSet());
  ASSERT_FALSE(one_by_one.usesSet());
  int matched = 0;
  for (int i = 0; i < 500; ++i) {
    std::string text;
    for (int n = rng() % 6; n > 0; --n) text += "abx"[rng() % 3];
    const Ids ids = matchAll(with_set, text);
    ASSERT_EQ(ids, matchAll(one_by_one, text)) << text;
    matched += !ids.empty();
  }
  EXPECT_GT(matched, 100);
  EXPECT_EQ(with_set.fallbacks(), 0u);
}

}  // namespace
}  // namespace portcullis::policy
