// The Linux RuleTable and RouteTable over libnl-3 (the only code that includes its headers).
#pragma once

#include <memory>

#include "common/result.h"
#include "datapath/route_table.h"
#include "datapath/rule_table.h"

namespace portcullis::datapath {

// Each opens its own NETLINK_ROUTE socket.
Result<std::unique_ptr<RuleTable>> openNetlinkRuleTable();
Result<std::unique_ptr<RouteTable>> openNetlinkRouteTable();

}  // namespace portcullis::datapath
