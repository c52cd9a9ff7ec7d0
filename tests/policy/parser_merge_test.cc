// mergePolicies: rule names and port/protocol listeners are checked across policy files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/parser.h"

namespace portcullis::policy {
namespace {

using ::testing::HasSubstr;

Policy parse(const std::string& yaml, const std::string& file) {
  Parsed<Policy> p = parsePolicy(yaml, file);
  EXPECT_TRUE(p.ok()) << file << ": " << (p.errors.empty() ? "" : p.errors[0].toString());
  return p.value.value_or(Policy{});
}

std::string rule(const std::string& name, int port, const std::string& protocol,
                 const std::string& section) {
  return "  - name: " + name +
         "\n    direction: egress\n    selector: {ports: [{port: " + std::to_string(port) +
         ", protocol: " + protocol + "}]}\n    " + section + ": []\n";
}

TEST(MergePoliciesTest, ConcatenatesRulesInFileOrder) {
  auto merged = mergePolicies(
      {parse("rules:\n" + rule("a", 80, "TCP", "http"), "a.yaml"),
       parse("rules:\n" + rule("b", 53, "ANY", "dns") + rule("c", 8080, "TCP", "http"), "b.yaml")});
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged.value->rules.size(), 3u);
  EXPECT_EQ(merged.value->rules[0].name, "a");
  EXPECT_EQ(merged.value->rules[1].name, "b");
  EXPECT_EQ(merged.value->rules[1].where, (SourceLocation{"b.yaml", 2, 5}));
  EXPECT_EQ(merged.value->rules[2].name, "c");
}

TEST(MergePoliciesTest, DuplicateNameAcrossFilesPointsAtTheSecondAndNamesTheFirst) {
  auto merged = mergePolicies(
      {parse("rules:\n" + rule("web", 80, "TCP", "http"), "a.yaml"),
       parse("rules:\n" + rule("x", 81, "TCP", "http") + rule("web", 82, "TCP", "http"),
             "b.yaml")});
  EXPECT_FALSE(merged.ok());
  ASSERT_EQ(merged.errors.size(), 1u);
  EXPECT_EQ(merged.errors[0].where, (SourceLocation{"b.yaml", 6, 5}));
  EXPECT_EQ(merged.errors[0].message, "duplicate rule name 'web'; first defined at a.yaml:2:5");
}

TEST(MergePoliciesTest, PortConflictAcrossFiles) {
  // ANY on 53 in one file takes TCP and UDP for dns; http on 53/TCP in the other conflicts,
  // and the same port on ingress does not.
  auto merged = mergePolicies({parse("rules:\n" + rule("dns", 53, "ANY", "dns"), "a.yaml"),
                               parse("rules:\n" + rule("web", 53, "tcp", "http"), "b.yaml"),
                               parse("rules:\n  - name: in\n    direction: ingress\n"
                                     "    selector: {ports: [{port: 53}]}\n    http: []\n" +
                                         rule("sni", 53, "TCP", "tls"),
                                     "c.yaml")});
  ASSERT_EQ(merged.errors.size(), 2u);
  EXPECT_EQ(merged.errors[0].where, (SourceLocation{"b.yaml", 2, 5}));
  EXPECT_THAT(merged.errors[0].message,
              HasSubstr("rule 'web' sends egress 53/TCP to the http listener, but rule 'dns' "
                        "(a.yaml:2:5) sends it to the dns listener"));
  EXPECT_EQ(merged.errors[1].where, (SourceLocation{"c.yaml", 6, 5}));
  EXPECT_THAT(merged.errors[1].message,
              HasSubstr("rule 'sni' sends egress 53/TCP to the tls listener, but rule 'dns' "
                        "(a.yaml:2:5)"));
}

TEST(MergePoliciesTest, UdpAndTcpOfOnePortMayFeedDifferentListeners) {
  auto merged = mergePolicies({parse("rules:\n" + rule("dns", 53, "UDP", "dns"), "a.yaml"),
                               parse("rules:\n" + rule("web", 53, "TCP", "http"), "b.yaml")});
  EXPECT_TRUE(merged.ok());
}

TEST(MergePoliciesTest, NothingToMergeIsAnEmptyPolicy) {
  auto merged = mergePolicies({});
  ASSERT_TRUE(merged.ok());
  EXPECT_TRUE(merged.value->rules.empty());
}

}  // namespace
}  // namespace portcullis::policy
