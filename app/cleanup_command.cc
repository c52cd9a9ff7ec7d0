// `portcullis cleanup [--config FILE]` (SPEC.md "Command line"): removes whatever a previous
// run left behind, for both families and both iptables backends, so it also finds rules a run
// with another `datapath.iptables` setting installed. Idempotent: exits 0 when nothing is left.
#include <cstdio>
#include <string>

#include "app/commands.h"
#include "app/config_loader.h"
#include "common/log.h"
#include "datapath/leftovers.h"
#include "datapath/netlink_routing.h"
#include "datapath/process_command_runner.h"

namespace portcullis::app {

int cleanupCommand(Args args) {
  std::string config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = std::string(args[++i]);
    } else {
      std::fprintf(stderr, "portcullis cleanup: unexpected argument '%.*s'; usage: portcullis cleanup [--config FILE]\n",
                   static_cast<int>(args[i].size()), args[i].data());
      return kExitBadConfig;
    }
  }
  // Without a config, the default table of SPEC.md.
  uint32_t table = policy::DatapathConfig{}.route_table;
  if (!config_path.empty()) {
    auto config = readConfig(config_path);
    if (!config.ok()) {
      for (const auto& d : config.errors) std::fprintf(stderr, "%s\n", d.toString().c_str());
      return kExitBadConfig;
    }
    table = config.value->datapath.route_table;
  }

  size_t removed = 0;
  bool failed = false;
  auto rules = datapath::openNetlinkRuleTable();
  auto routes = datapath::openNetlinkRouteTable();
  if (!rules || !routes) {
    log::error("cannot open netlink");
    return kExitRuntime;
  }
  // Routes and rules first, then jumps and chains: the teardown order.
  if (auto n = datapath::removeRoutingLeftovers(*rules.value(), *routes.value(), table)) removed += n.value();
  else failed = true;
  datapath::ProcessCommandRunner runner;
  for (auto backend : {datapath::IptablesBackend::kNft, datapath::IptablesBackend::kLegacy}) {
    datapath::Iptables iptables(runner, backend);
    for (Family family : {Family::kV6, Family::kV4}) {
      if (auto n = datapath::removeIptablesLeftovers(iptables, family)) removed += n.value();
      else failed = true;
    }
  }
  if (failed) {
    log::error("cleanup incomplete: see the errors above");
    return kExitRuntime;
  }
  std::printf(removed == 0 ? "nothing to clean up\n" : "removed %zu leftover objects\n", removed);
  return kExitOk;
}

}  // namespace portcullis::app
