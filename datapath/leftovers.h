// What a previous run left behind (after a crash or kill -9), and its removal: our chains,
// jumps and commented rules in iptables-save output, our fwmark rule at any priority that
// looks up our table, and every route in our table.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "datapath/iptables.h"
#include "datapath/iptables_state.h"
#include "datapath/route_table.h"
#include "datapath/rule_table.h"

namespace portcullis::datapath {

// Listener name -> port, from the comments and --on-port of leftover TPROXY rules.
std::map<std::string, uint16_t> leftoverListenerPorts(const IptablesState& state);

bool isOurFwmarkRule(const FwmarkRule& rule, uint32_t table);

// Each returns how many objects it removed (0: nothing was there). A family whose tools are
// missing (no ip6tables-legacy, say) has nothing of ours.
Result<size_t> removeIptablesLeftovers(Iptables& iptables, Family family);
Result<size_t> removeRoutingLeftovers(RuleTable& rules, RouteTable& routes, uint32_t table);

}  // namespace portcullis::datapath
