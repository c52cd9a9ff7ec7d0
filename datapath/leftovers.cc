#include "datapath/leftovers.h"

#include <charconv>

#include "common/log.h"
#include "datapath/datapath_error.h"
#include "datapath/marks.h"
#include "datapath/payload_renderer.h"

namespace portcullis::datapath {
namespace {

std::optional<uint16_t> onPort(std::string_view spec) {
  constexpr std::string_view kFlag = "--on-port ";
  const auto at = spec.find(kFlag);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = spec.substr(at + kFlag.size());
  uint16_t port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || port == 0) return std::nullopt;
  return port;
}

}  // namespace

std::map<std::string, uint16_t> leftoverListenerPorts(const IptablesState& state) {
  constexpr std::string_view kTproxy = "--comment \"portcullis: tproxy ";
  std::map<std::string, uint16_t> ports;
  for (const auto& table : state.tables) {
    for (const auto& rule : table.rules) {
      const auto at = rule.spec.find(kTproxy);
      if (at == std::string::npos || rule.spec.find("-j TPROXY") == std::string::npos) continue;
      const auto start = at + kTproxy.size();
      const auto end = rule.spec.find('"', start);
      if (end == std::string::npos) continue;
      if (auto port = onPort(rule.spec)) ports.emplace(rule.spec.substr(start, end - start), *port);
    }
  }
  return ports;
}

bool isOurFwmarkRule(const FwmarkRule& rule, uint32_t table) {
  return rule.table == table && rule.mark == kMarkToProxy && rule.mask == kMarkMagicMask;
}

Result<size_t> removeIptablesLeftovers(Iptables& iptables, Family family) {
  auto saved = iptables.save(family);
  if (!saved) {
    if (saved.error() == DatapathError::kSpawnFailed) return size_t{0};
    return saved.error();
  }
  const IptablesState state = IptablesState::parse(saved.value());
  const auto payload = renderRemoval(state);
  if (!payload) return size_t{0};
  PC_TRY(iptables.restore(family, *payload));
  size_t removed = 0;  // rules deleted and chains dropped
  for (size_t at = 0; at < payload->size(); at = payload->find('\n', at) + 1) {
    if (payload->compare(at, 3, "-D ") == 0 || payload->compare(at, 3, "-X ") == 0) ++removed;
  }
  log::info("removed ", removed, " portcullis rules and chains with ", iptables.restoreArgv(family)[0]);
  return removed;
}

Result<size_t> removeRoutingLeftovers(RuleTable& rules, RouteTable& routes, uint32_t table) {
  size_t removed = 0;
  for (Family family : {Family::kV4, Family::kV6}) {
    PC_TRY(listed_routes, routes.list(family, table));
    for (const auto& route : listed_routes) {
      PC_TRY(routes.remove(route));
      log::info("removed leftover route: ", route.toString());
      ++removed;
    }
    PC_TRY(listed_rules, rules.list(family));
    for (const auto& rule : listed_rules) {
      if (!isOurFwmarkRule(rule, table)) continue;
      PC_TRY(rules.remove(rule));
      log::info("removed leftover rule: ", rule.toString());
      ++removed;
    }
  }
  return removed;
}

}  // namespace portcullis::datapath
