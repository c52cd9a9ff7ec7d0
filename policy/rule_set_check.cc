#include "policy/rule_set_check.h"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "policy/parser.h"

namespace portcullis::policy {
namespace {

std::string at(const SourceLocation& where) {
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

// The listener a (direction, port, protocol) feeds is decided by the first rule that names it.
using PortKey = std::tuple<Direction, uint16_t, Protocol>;

}  // namespace

void checkRuleSet(std::span<const Rule* const> rules, std::vector<Diagnostic>& errors) {
  std::map<std::string_view, const Rule*> names;
  std::map<PortKey, const Rule*> listeners;
  for (const Rule* rule : rules) {
    if (!rule->name.empty()) {
      const auto [it, inserted] = names.emplace(rule->name, rule);
      if (!inserted) {
        errors.push_back({rule->where, "duplicate rule name '" + rule->name +
                                           "'; first defined at " + at(it->second->where)});
      }
    }
    std::set<const Rule*> reported;  // one error per pair of rules, not per port
    for (const PortProtocol& pp : rule->selector.ports) {
      for (Protocol p : {Protocol::kTcp, Protocol::kUdp}) {
        if (pp.protocol != p && pp.protocol != Protocol::kAny) continue;
        const auto [it, inserted] = listeners.emplace(PortKey{rule->direction, pp.port, p}, rule);
        const Rule* first = it->second;
        if (inserted || first->l7 == rule->l7 || !reported.insert(first).second) continue;
        errors.push_back(
            {rule->where, "rule '" + rule->name + "' sends " + toString(rule->direction) + " " +
                              std::to_string(pp.port) + "/" + toString(p) + " to the " +
                              toString(rule->l7) + " listener, but rule '" + first->name + "' (" +
                              at(first->where) + ") sends it to the " + toString(first->l7) +
                              " listener; a port and protocol feed one listener per direction"});
      }
    }
  }
}

Parsed<Policy> mergePolicies(std::vector<Policy> policies) {
  Policy merged;
  for (Policy& p : policies) {
    for (Rule& r : p.rules) merged.rules.push_back(std::move(r));
  }
  std::vector<const Rule*> refs;
  refs.reserve(merged.rules.size());
  for (const Rule& r : merged.rules) refs.push_back(&r);
  Parsed<Policy> out;
  checkRuleSet(refs, out.errors);
  if (out.errors.empty()) out.value = std::move(merged);
  return out;
}

}  // namespace portcullis::policy
