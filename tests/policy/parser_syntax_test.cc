// The field validators behind the parser's messages (policy/rule_syntax.h), table-driven.
#include <gtest/gtest.h>

#include <string>

#include "policy/rule_syntax.h"

namespace portcullis::policy {
namespace {

struct Vector {
  std::string text;
  bool valid;
};

template <class Check>
void expectValidity(Check check, const std::vector<Vector>& vectors) {
  for (const auto& v : vectors) {
    const auto error = check(v.text);
    EXPECT_EQ(!error.has_value(), v.valid) << "'" << v.text << "': " << error.value_or("valid");
  }
}

TEST(RuleSyntaxTest, DnsNames) {
  expectValidity(dnsNameError, {
                                   {"example.test", true},
                                   {"example.test.", true},
                                   {"_foobar._tcp.cilium.io", true},
                                   {"EXAMPLE-1.Test", true},
                                   {"localhost", true},
                                   {"", false},
                                   {".", false},
                                   {".example.test", false},
                                   {"a..test", false},
                                   {"example.test..", false},
                                   {"exa mple.test", false},
                                   {"*.example.test", false},
                                   {"ex/ample", false},
                                   {std::string(253, 'a'), true},
                                   {std::string(253, 'a') + ".", true},
                                   {std::string(254, 'a'), false},
                               });
}

TEST(RuleSyntaxTest, DnsPatternsIncludingCiliumVectors) {
  expectValidity(dnsPatternError, {
                                      // The patterns of Cilium's matchpattern test vectors.
                                      {"cilium.io.", true},
                                      {"*.cilium.io.", true},
                                      {"*.ci*.io.", true},
                                      {"*", true},
                                      {"**.cilium.io.", true},
                                      {"*.*.cilium.io.", true},
                                      {"_foobar._tcp.cilium.io.", true},
                                      // Stars only match everything.
                                      {"**", true},
                                      {"***", true},
                                      {"*.", true},
                                      {"", false},
                                      {"a.**.test", false},
                                      {"***.test", false},
                                      {"a**.test", false},
                                      {"**", true},
                                      {"a..test", false},
                                      {".test", false},
                                      {"ex$ample.test", false},
                                      {"exa mple.test", false},
                                      {std::string(255, 'a'), true},
                                      {std::string(256, '*'), false},
                                  });
}

TEST(RuleSyntaxTest, ServerNames) {
  expectValidity(serverNameError, {
                                      {"api.example.test", true},
                                      {"*.cdn.example.test", true},
                                      {"*.test", true},
                                      {"*", false},
                                      {"*.", false},
                                      {"a.*.test", false},
                                      {"**.test", false},
                                      {"*example.test", false},
                                      {"", false},
                                  });
}

TEST(RuleSyntaxTest, HeaderEntriesAreValidatedAndNormalized) {
  struct Case {
    std::string entry;
    bool valid;
    std::string normalized;
  };
  for (const Case& c : std::vector<Case>{
           {"X-Team: blue", true, "X-Team: blue"},
           {"X-Team:blue", true, "X-Team: blue"},
           {"  X-Team  :  blue green  ", true, "X-Team: blue green"},
           {"X-Debug", true, "X-Debug"},
           {"X-Url: http://a:80/", true, "X-Url: http://a:80/"},
           {"X Team: blue", false, ""},
           {": blue", false, ""},
           {"", false, ""},
           {"X-Team:", false, ""},
           {"X-Team: a\x01", false, ""},
           {"X(Team): a", false, ""},
       }) {
    std::string normalized;
    const auto error = headerEntryError(c.entry, normalized);
    EXPECT_EQ(!error.has_value(), c.valid) << "'" << c.entry << "': " << error.value_or("");
    if (c.valid) {
      EXPECT_EQ(normalized, c.normalized);
    }
  }
}

TEST(RuleSyntaxTest, RuleNamesInterfacesAndCgroups) {
  expectValidity(ruleNameError, {{"web-egress", true},
                                 {"team/app:v1.2_x", true},
                                 {"", false},
                                 {"web egress", false},
                                 {"a\"b", false},
                                 {std::string(128, 'a'), true},
                                 {std::string(129, 'a'), false}});
  expectValidity(interfaceError, {{"eth0", true},
                                  {"veth+", true},
                                  {"+", true},
                                  {"br-1.100", true},
                                  {"", false},
                                  {"eth 0", false},
                                  {"a+b", false},
                                  {"++", false},
                                  {"!eth0", false},
                                  {"a/b", false},
                                  {std::string(15, 'a'), true},
                                  {std::string(16, 'a'), false}});
  expectValidity(cgroupError, {{"system.slice/app.service", true},
                               {"/user.slice", true},
                               {"", false},
                               {"a b", false},
                               {"a\"b", false}});
}

TEST(RuleSyntaxTest, RegexesReportRe2sError) {
  EXPECT_FALSE(regexError("GET|HEAD", false).has_value());
  EXPECT_FALSE(regexError("/public/.*", false).has_value());
  EXPECT_EQ(regexError("GET(", false).value_or(""), "missing ): GET(");
  EXPECT_EQ(regexError("a)|(b", false).value_or(""), "unexpected ): a)|(b");
  // Back-references are outside RE2's linear-time language.
  EXPECT_TRUE(regexError("(a)\\1", false).has_value());
  // A program too large for RE2's memory budget is an error, not a slow start.
  EXPECT_TRUE(regexError("((((a{100}){100}){100}){100})", false).has_value());
}

}  // namespace
}  // namespace portcullis::policy
