// The parsed output of iptables-save / ip6tables-save, and the predicates that tell which
// parts of it are ours: chains named PORTCULLIS_*, jumps to them, and rules whose comment
// starts with "portcullis:" (DESIGN.md "Ownership and lifetime").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::datapath {

inline constexpr std::string_view kChainPrefix = "PORTCULLIS_";
inline constexpr std::string_view kCommentPrefix = "portcullis:";

struct IptablesRule {
  std::string chain;
  std::string spec;  // everything after "-A CHAIN ", exactly as printed
  std::string line() const { return "-A " + chain + " " + spec; }
  bool operator==(const IptablesRule&) const = default;
};

struct IptablesTable {
  std::string name;
  std::vector<std::string> chains;  // in the order printed, built-in and user-defined
  std::vector<IptablesRule> rules;  // in the order printed (= evaluation order per chain)
  std::vector<IptablesRule> rulesOf(std::string_view chain) const;
  bool hasChain(std::string_view chain) const;
  bool operator==(const IptablesTable&) const = default;
};

struct IptablesState {
  std::vector<IptablesTable> tables;
  static IptablesState parse(std::string_view save_output);
  const IptablesTable* table(std::string_view name) const;
  bool operator==(const IptablesState&) const = default;
};

bool isOurChain(std::string_view chain);
// The target of "-j X" or "-g X", if any.
std::optional<std::string> jumpTarget(std::string_view spec);
bool hasOurComment(std::string_view spec);
// Ours: in one of our chains, jumping to one, or carrying our comment.
bool isOurRule(const IptablesRule& rule);

}  // namespace portcullis::datapath
