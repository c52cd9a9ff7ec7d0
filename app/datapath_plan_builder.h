// The translation from the policy model to the datapath's plan: the only place that sees both
// policy/ and datapath/ types (datapath/ must not include policy/ headers).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "datapath/datapath_plan.h"
#include "datapath/port_allocator.h"
#include "policy/model.h"

namespace portcullis::app {

// "portcullis-http-egress": the listener that serves a rule (SPEC.md "Datapath layout").
std::string listenerName(policy::L7Protocol l7, policy::Direction direction);

// The listeners a policy needs, in a fixed order, with the protocols each must accept: DNS on
// TCP and UDP, HTTP and TLS on TCP. `preferred` carries ports adopted from leftovers.
std::vector<datapath::PortRequest> listenerRequests(
    const policy::Policy& policy, const std::map<std::string, uint16_t>& preferred = {});

// The plan for `policy` with the given listener ports (one for each of listenerRequests()).
datapath::DatapathPlan buildDatapathPlan(const policy::Config& config, const policy::Policy& policy,
                                         const std::map<std::string, uint16_t>& ports);

}  // namespace portcullis::app
