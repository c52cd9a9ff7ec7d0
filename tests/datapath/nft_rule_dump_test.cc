#include "datapath/nft_rule_dump.h"

#include <gtest/gtest.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace portcullis::datapath {
namespace {

// Netlink attributes by hand, as the kernel packs them.
std::string attribute(uint16_t type, std::string_view payload) {
  nlattr header{static_cast<uint16_t>(NLA_HDRLEN + payload.size()), type};
  std::string out(reinterpret_cast<const char*>(&header), sizeof header);
  out.append(payload);
  out.resize(NLA_ALIGN(out.size()), '\0');
  return out;
}
std::string text(uint16_t type, const std::string& value) {
  return attribute(type, std::string_view(value.c_str(), value.size() + 1));
}
std::string u64(uint16_t type, uint64_t value) {
  return attribute(type, std::string_view(reinterpret_cast<const char*>(&value), 8));
}
std::string nested(uint16_t type, const std::vector<std::string>& children) {
  std::string payload;
  for (const auto& child : children) payload += child;
  return attribute(static_cast<uint16_t>(type | NLA_F_NESTED), payload);
}
std::string expression(const std::string& name, const std::vector<std::string>& data) {
  return nested(NFTA_LIST_ELEM, {text(NFTA_EXPR_NAME, name), nested(NFTA_EXPR_DATA, data)});
}

struct Rule {
  uint64_t handle = 7, position = 6, packets = 0, bytes = 0;
  uint32_t port = 80;
  std::string comment = "portcullis: web-egress";
  bool counter = true;
  std::string message() const {
    std::vector<std::string> expressions{expression(
        "payload", {attribute(NFTA_PAYLOAD_OFFSET,
                              std::string_view(reinterpret_cast<const char*>(&port), 4))})};
    if (counter)
      expressions.push_back(expression(
          "counter", {u64(NFTA_COUNTER_BYTES, bytes), u64(NFTA_COUNTER_PACKETS, packets)}));
    expressions.push_back(expression("immediate", {}));
    return text(NFTA_RULE_TABLE, "mangle") + text(NFTA_RULE_CHAIN, "PORTCULLIS_PRE_mangle") +
           u64(NFTA_RULE_HANDLE, handle) + nested(NFTA_RULE_EXPRESSIONS, expressions) +
           u64(NFTA_RULE_POSITION, position) + text(NFTA_RULE_USERDATA, comment);
  }
};

std::string specOf(const Rule& rule) {
  const auto parsed = parseNftRule(rule.message());
  EXPECT_TRUE(parsed.has_value());
  return parsed ? parsed->rule.spec : "";
}

TEST(ParseNftRule, NamesTableAndChain) {
  const auto parsed = parseNftRule(Rule{}.message());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->table, "mangle");
  EXPECT_EQ(parsed->rule.chain, "PORTCULLIS_PRE_mangle");
  EXPECT_FALSE(parsed->rule.spec.empty());
}

TEST(ParseNftRule, HandlePositionAndCounterValuesAreNotPartOfTheSpec) {
  Rule moved;
  moved.handle = 900;
  moved.position = 899;
  moved.packets = 12;
  moved.bytes = 3400;
  EXPECT_EQ(specOf(Rule{}), specOf(moved));
}

TEST(ParseNftRule, ExpressionsCommentAndTheCounterItselfAre) {
  Rule other_port;
  other_port.port = 81;
  Rule other_comment;
  other_comment.comment = "portcullis: dns-egress";
  Rule no_counter;
  no_counter.counter = false;
  EXPECT_NE(specOf(Rule{}), specOf(other_port));
  EXPECT_NE(specOf(Rule{}), specOf(other_comment));
  EXPECT_NE(specOf(Rule{}), specOf(no_counter));
}

TEST(ParseNftRule, RefusesAnAttributeThatOverrunsTheMessage) {
  std::string message = Rule{}.message();
  message.resize(message.size() - 6);
  EXPECT_FALSE(parseNftRule(message).has_value());
}

}  // namespace
}  // namespace portcullis::datapath
