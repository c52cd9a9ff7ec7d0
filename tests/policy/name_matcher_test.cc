#include "policy/name_matcher.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "policy/dns_pattern.h"

namespace portcullis::policy {
namespace {

using Values = std::vector<uint32_t>;

struct Vector {
  const char* pattern;
  const char* name;
  bool match;
};

// Cilium pkg/fqdn/matchpattern vectors (issue 2).
const Vector kCiliumVectors[] = {
    {"cilium.io.", "cilium.io.", true},
    {"cilium.io.", "anysub.cilium.io.", false},
    {"*.cilium.io.", "anysub.cilium.io.", true},
    {"*.cilium.io.", "cilium.io.", false},
    {"*.cilium.io.", "anysub.ciliumandmore.io.", false},
    {"*.ci*.io.", "anysub.ci.io.", true},
    {"*.ci*.io.", "anysub.ciliumandmore.io.", true},
    {"*.ci*.io.", "cilium.io.", false},
    {"*", "_foobar._tcp.cilium.io.", true},
    {"**.cilium.io.", "sub11.sub22.sub33._foobar._tcp.cilium.io.", true},
    {"**.cilium.io.", "cilium.io.", false},
    {"*.*.cilium.io.", "_foobar._tcp.cilium.io.", true},
    {"_foobar._tcp.cilium.io.", "_tcp.cilium.io.", false},
};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}
std::string withoutDot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}
// The name as written, without its trailing dot, in upper case, and both.
std::vector<std::string> spellings(const std::string& name) {
  return {name, withoutDot(name), upper(name), upper(withoutDot(name))};
}

TEST(DnsName, Canonical) {
  EXPECT_EQ(canonicalDnsName("Example.TEST"), "example.test.");
  EXPECT_EQ(canonicalDnsName("example.test."), "example.test.");
  EXPECT_EQ(canonicalDnsName(""), ".");
  EXPECT_EQ(canonicalDnsName("."), ".");
}

TEST(DnsPattern, Translation) {
  struct Case {
    const char* pattern;
    const char* canonical;
    bool all;
    bool exact;
    const char* suffix;
  };
  const Case cases[] = {
      {"cilium.io", "cilium.io.", false, true, "cilium.io."},
      {"*", "*.", true, false, ""},
      {"***", "***.", true, false, ""},
      {"*.Cilium.IO", "*.cilium.io.", false, false, "cilium.io."},
      {"*.ci*.io.", "*.ci*.io.", false, false, "io."},
      {"**.cilium.io.", "**.cilium.io.", false, false, "cilium.io."},
      {"api-*", "api-*.", false, false, ""},
      {"*.*", "*.*.", false, false, ""},
  };
  for (const Case& c : cases) {
    const DnsPattern p(c.pattern);
    EXPECT_EQ(p.canonical(), c.canonical) << c.pattern;
    EXPECT_EQ(p.matchesAll(), c.all) << c.pattern;
    EXPECT_EQ(p.isExact(), c.exact) << c.pattern;
    if (!c.all) {
      EXPECT_EQ(p.literalSuffix(), c.suffix) << c.pattern;
    }
    EXPECT_EQ(p.regex().empty(), c.all || c.exact) << c.pattern;
  }
  EXPECT_EQ(DnsPattern("*.ci*.io").regex(), "[-a-z0-9_]*[.]ci[-a-z0-9_]*[.]io[.]");
  EXPECT_EQ(DnsPattern("**.io").regex(), "(?:[-a-z0-9_]+[.])+io[.]");
}

// The hand-written matcher alone, and the RE2 translation used for large buckets, on the same
// vectors: the two must describe one language.
TEST(DnsPattern, CiliumVectorsByHandAndByRegex) {
  for (const Vector& v : kCiliumVectors) {
    const DnsPattern p(v.pattern);
    RE2::Options latin1;
    latin1.set_encoding(RE2::Options::EncodingLatin1);
    const RE2 re(p.regex(), latin1);
    for (const std::string& name : spellings(v.name)) {
      const std::string canonical = canonicalDnsName(name);
      EXPECT_EQ(p.matches(canonical), v.match) << v.pattern << " vs " << name;
      if (!p.regex().empty()) {
        EXPECT_EQ(RE2::FullMatch(canonical, re), v.match) << p.regex() << " vs " << name;
      }
    }
  }
  // Backtracking within a label, and stars that must not cross a dot.
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  };
  const Case more[] = {
      {"a*b*c", "axxbyybzc.", true}, {"a*b*c", "axxbyyb.c.", false},
      {"*a.*b", "xa.yb.", true},     {"*a.*b", "xa.ya.zb.", false},
      {"**.a*", "x.y.abc.", true},   {"**.a*", "abc.", false},
      {"**.x.y", "..x.y.", false},   {"*-*-*", "a--.", true},
      {"*a.", ".", false},           {"x*", "x.", true},
      {"x*", "x-_9.", true},         {"x*", "x!.", false},
  };
  for (const Case& c : more) {
    const DnsPattern p(c.pattern);
    EXPECT_EQ(p.matches(c.name), c.match) << c.pattern << " vs " << c.name;
    const RE2 re(p.regex());
    EXPECT_EQ(RE2::FullMatch(c.name, re), c.match) << p.regex() << " vs " << c.name;
  }
}

TEST(NameMatcher, CiliumVectorsOnePatternEach) {
  for (const Vector& v : kCiliumVectors) {
    NameMatcher m;
    m.addPattern(v.pattern, 7);
    ASSERT_EQ(m.compile(), "");
    for (const std::string& name : spellings(v.name)) {
      EXPECT_EQ(m.matches(name), v.match ? Values{7} : Values{}) << v.pattern << " vs " << name;
    }
    // The pattern's own spelling does not matter either.
    NameMatcher shouted;
    shouted.addPattern(upper(withoutDot(v.pattern)), 7);
    ASSERT_EQ(shouted.compile(), "");
    EXPECT_EQ(shouted.matches(v.name), v.match ? Values{7} : Values{}) << "upper " << v.pattern;
  }
}

// The same vectors with all patterns in one matcher, plus enough fillers that every bucket
// holds a real RE2::Set rather than a few single regexes.
TEST(NameMatcher, CiliumVectorsAllPatternsTogether) {
  NameMatcher m;
  const auto count = static_cast<uint32_t>(std::size(kCiliumVectors));
  for (uint32_t i = 0; i < count; ++i) m.addPattern(kCiliumVectors[i].pattern, i);
  for (uint32_t i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    m.addPattern("*.filler" + n + ".io.", 1000 + i);
    m.addPattern("x" + n + "*.cilium.io.", 2000 + i);
    m.addPattern("*z" + n + "*", 3000 + i);
  }
  ASSERT_EQ(m.compile(), "");
  for (uint32_t i = 0; i < count; ++i) {
    const Vector& v = kCiliumVectors[i];
    for (const std::string& name : spellings(v.name)) {
      const Values got = m.matches(name);
      EXPECT_EQ(std::binary_search(got.begin(), got.end(), i), v.match)
          << v.pattern << " vs " << name;
      // No filler matches these names.
      EXPECT_TRUE(got.empty() || got.back() < 1000) << name;
    }
  }
  EXPECT_EQ(m.matches("a.filler7.io"), (Values{8, 1007}));
  EXPECT_EQ(m.matches("x12abc.cilium.io"), (Values{2, 3, 4, 5, 6, 7, 8, 9, 10, 2001, 2012}));
  // "*z3*" is one label: it matches "az33b." but not "www.az33b.test.".
  EXPECT_EQ(m.matches("AZ33B"), (Values{8, 3003, 3033}));
  EXPECT_EQ(m.matches("www.az33b.test"), (Values{8}));
}

TEST(NameMatcher, StarNeverCrossesADotNorMatchesOtherCharacters) {
  NameMatcher m;
  m.addPattern("*.example.test", 1);
  ASSERT_EQ(m.compile(), "");
  EXPECT_EQ(m.matches("www.example.test"), Values{1});
  EXPECT_EQ(m.matches("a.b.example.test"), Values{});
  EXPECT_EQ(m.matches("ww w.example.test"), Values{});
  EXPECT_EQ(m.matches("w*w.example.test"), Values{});
  EXPECT_EQ(m.matches(std::string("w\xc3\xa9.example.test")), Values{});
  EXPECT_EQ(m.matches("example.test"), Values{});
}

TEST(NameMatcher, ExactNamesAllAndFirstMatch) {
  NameMatcher m;
  m.addName("Example.Test", 4);
  m.addName("example.test.", 2);
  m.addAll(9);
  m.addPattern("*.example.test", 3);
  m.addPattern("*.example.test", 6);  // same pattern, another rule
  ASSERT_EQ(m.compile(), "");
  EXPECT_EQ(m.matches("EXAMPLE.test"), (Values{2, 4, 9}));
  EXPECT_EQ(m.matches("a.example.test"), (Values{3, 6, 9}));
  EXPECT_EQ(m.matches("other.test"), Values{9});

  const Values allowed = {1, 3, 4, 6, 8};
  EXPECT_EQ(m.firstMatch("example.test", allowed), 4u);
  EXPECT_EQ(m.firstMatch("a.example.test", allowed), 3u);
  EXPECT_EQ(m.firstMatch("other.test", allowed), std::nullopt);
  EXPECT_EQ(m.firstMatch("other.test", Values{9}), 9u);
  EXPECT_EQ(m.firstMatch("example.test", Values{}), std::nullopt);
  // A long allowed list is probed, not walked.
  Values many(5000);
  for (uint32_t i = 0; i < many.size(); ++i) many[i] = 2 * i + 10;  // even values from 10
  many.insert(many.begin(), 6);
  EXPECT_EQ(m.firstMatch("x.example.test", many), 6u);
  EXPECT_EQ(m.firstMatch("example.test", many), std::nullopt);
}

TEST(NameMatcher, ManyPatternsInOneBucket) {
  NameMatcher m;
  for (uint32_t i = 0; i < 2000; ++i) {
    m.addPattern("api-" + std::to_string(i) + "-*.svc.test", i);
  }
  ASSERT_EQ(m.compile(), "");
  EXPECT_EQ(m.matches("api-1234-blue.svc.test"), Values{1234});
  EXPECT_EQ(m.matches("api-1234-.svc.test"), Values{1234});
  EXPECT_EQ(m.matches("api-1234.svc.test"), Values{});
  EXPECT_EQ(m.matches("api-99999-x.svc.test"), Values{});
}

}  // namespace
}  // namespace portcullis::policy
