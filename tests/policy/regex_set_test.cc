#include "policy/regex_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>
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

// Literal patterns skip RE2; the answers must be RE2's all the same.
TEST(RegexSet, LiteralsAnswerAsRe2Would) {
  const std::vector<std::string> patterns = {"GET",         "api\\.example\\.test",
                                             "a-b",         "a\\-b",
                                             "x\\+y",       "a.b",
                                             "\\d+",        "\\x41",
                                             "(?i)get",     "a\\Qb\\E",
                                             "caf\xc3\xa9", "",
                                             "/v1/items",   "/v1/items?",
                                             "a{2}",        "a b",
                                             "100%",        "#x"};
  const std::vector<std::string> texts = {"GET",
                                          "get",
                                          "api.example.test",
                                          "API.Example.Test",
                                          "apiXexample.test",
                                          "a-b",
                                          "x+y",
                                          "axb",
                                          "a.b",
                                          "12",
                                          "A",
                                          "a",
                                          "ab",
                                          "caf\xc3\xa9",
                                          "CAF\xc3\x89",
                                          "",
                                          "/v1/items",
                                          "/v1/item",
                                          "aa",
                                          "a b",
                                          "100%",
                                          "#x"};
  for (const bool case_sensitive : {true, false}) {
    RegexSet set({.case_sensitive = case_sensitive});
    for (const auto& p : patterns) ASSERT_TRUE(set.add(p).ok()) << p;
    ASSERT_EQ(set.compile(), "");
    // GET, api.example.test, a-b (twice), x+y, "", /v1/items, a b, 100%, #x
    EXPECT_EQ(set.literalCount(), 10u);
    RE2::Options o;
    o.set_case_sensitive(case_sensitive);
    for (const auto& text : texts) {
      Ids want;
      for (size_t i = 0; i < patterns.size(); ++i) {
        if (RE2::FullMatch(text, RE2(patterns[i], o))) want.push_back(static_cast<int>(i));
      }
      EXPECT_EQ(matchAll(set, text), want) << text << (case_sensitive ? "" : " (ignoring case)");
    }
  }
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

TEST(RegexSet, PathPrefixBuckets) {
  const RegexSet set = compiled({"/tenants/1/(a|b)", "/tenants/2/.*", "/tenants/2/x+", "/v1/.*",
                                 "a/x|b/y", "/x/y*", "/x/z+/w", "/q\\?a=/.*"},
                                {.separator = '/'});
  // "/tenants/1/", "/tenants/2/", "/v1/", "" (the alternation), "/x/", "/q?a=/".
  EXPECT_EQ(set.bucketCount(), 6u);
  EXPECT_EQ(matchAll(set, "/tenants/1/b"), Ids{0});
  EXPECT_EQ(matchAll(set, "/tenants/2/xx"), (Ids{1, 2}));
  EXPECT_EQ(matchAll(set, "/v1/a/b?c=/d"), Ids{3});
  EXPECT_EQ(matchAll(set, "b/y"), Ids{4});
  EXPECT_EQ(matchAll(set, "/x/"), Ids{5});
  EXPECT_EQ(matchAll(set, "/x/zz/w"), Ids{6});
  EXPECT_EQ(matchAll(set, "/q?a=/b"), Ids{7});
  EXPECT_EQ(matchAll(set, "/tenants/3/a"), Ids{});

  // A top-level alternation hidden from a naive scan: the right side has no "/k/" prefix.
  const RegexSet hidden = compiled(
      {"/a/\\Q(\\E|b", "/c/[[:alpha:](]|d", "/e/[\\[]|f", "/g/[]a]|h", "/i/[^]a]|j", "/k/(x|y)"},
      {.separator = '/'});
  EXPECT_EQ(matchAll(hidden, "b"), Ids{0});
  EXPECT_EQ(matchAll(hidden, "/a/("), Ids{0});
  EXPECT_EQ(matchAll(hidden, "d"), Ids{1});
  EXPECT_EQ(matchAll(hidden, "f"), Ids{2});
  EXPECT_EQ(matchAll(hidden, "h"), Ids{3});
  EXPECT_EQ(matchAll(hidden, "j"), Ids{4});
  EXPECT_EQ(matchAll(hidden, "/k/y"), Ids{5});
}

// Random patterns full of the syntax that decides a literal prefix (alternation, classes,
// quantifiers, escapes, quoting): the bucketed set must answer exactly as RE2 one by one.
TEST(RegexSet, PrefixBucketsAgreeWithRe2) {
  std::mt19937 rng(11);
  const std::vector<std::string> atoms = {
      "/",           "a",        "b",       "/a",           "[ab]",  "(a|/b)", "|",    "a*",
      "/?",          "[]a]",     "[\\[]",   "\\.",          ".",     "b+",     "a{2}", "[^]/]",
      "[[:alpha:]]", "\\Q/|\\E", "\\Q(\\E", "[[:alpha:](]", "(?i)A", "(/)",    "[|]",  "\\/"};
  std::vector<std::string> patterns;  // distinct, so a pattern's id is its index
  std::set<std::string> seen;
  while (patterns.size() < 400) {
    std::string p;
    for (int n = 1 + rng() % 5; n > 0; --n) p += atoms[rng() % atoms.size()];
    if (RE2(p).ok() && seen.insert(p).second) patterns.push_back(p);
  }
  RegexSet bucketed({.separator = '/'});
  for (const auto& p : patterns) ASSERT_TRUE(bucketed.add(p).ok()) << p;
  ASSERT_EQ(bucketed.compile(), "");
  EXPECT_GE(bucketed.bucketCount(), 4u);
  std::vector<std::unique_ptr<RE2>> singles;
  for (const auto& p : patterns) singles.push_back(std::make_unique<RE2>(p));
  int matched = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (int n = rng() % 8; n > 0; --n) text += "/abAB.[]|"[rng() % 9];
    Ids want;
    for (size_t p = 0; p < patterns.size(); ++p) {
      if (RE2::FullMatch(text, *singles[p])) want.push_back(static_cast<int>(p));
    }
    ASSERT_EQ(matchAll(bucketed, text), want) << text;
    matched += !want.empty();
  }
  EXPECT_GT(matched, 500);
}

// "literal.*" patterns are prefix comparisons; they must answer as RE2 does, line feeds,
// UTF-8 and case folding included, alone and mixed with regexes in the same bucket.
TEST(RegexSet, PrefixPatternsAnswerAsRe2Would) {
  const std::vector<std::string> patterns = {"/public/.*", "/public/a.*", "/pub.*",   ".*",
                                             "/v1/\\.x.*", "/x/[ab].*",   "k.*",      "/public/\\*.*",
                                             "caf\xc3\xa9.*", "a\\.*",       "/public/.+"};
  const std::vector<std::string> texts = {"/public/",
                                          "/public/index.html",
                                          "/public/a",
                                          "/publi",
                                          "/pub",
                                          "/public/a\nb",
                                          "/public/\xff",
                                          "/public/caf\xc3\xa9",
                                          "/v1/.x?q=1",
                                          "/v1/ax",
                                          "/x/a/b",
                                          "K",
                                          "kelvin",
                                          "\xe2\x84\xaa",
                                          "\xe2\x84\xaa" "elvin",
                                          "/public/*",
                                          "caf\xc3\xa9s",
                                          "CAF\xc3\x89S",
                                          "a",
                                          "a...",
                                          "",
                                          "\n"};
  for (const bool case_sensitive : {true, false}) {
    for (const char separator : {'\0', '/'}) {
      RegexSet set({.case_sensitive = case_sensitive, .separator = separator});
      for (const auto& p : patterns) ASSERT_TRUE(set.add(p).ok()) << p;
      ASSERT_EQ(set.compile(), "");
      RE2::Options o;
      o.set_case_sensitive(case_sensitive);
      for (const auto& text : texts) {
        Ids want;
        for (size_t i = 0; i < patterns.size(); ++i) {
          if (RE2::FullMatch(text, RE2(patterns[i], o))) want.push_back(static_cast<int>(i));
        }
        EXPECT_EQ(matchAll(set, text), want)
            << text << (case_sensitive ? "" : " (ignoring case)") << " separator " << separator;
      }
    }
  }
}

}  // namespace
}  // namespace portcullis::policy
