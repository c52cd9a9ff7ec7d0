// Policy-routing rules (`ip rule`): the fwmark rule that sends to-proxy traffic to our table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace portcullis::datapath {

struct FwmarkRule {
  Family family = Family::kV4;
  uint32_t priority = 0;
  uint32_t mark = 0;
  uint32_t mask = 0;
  uint32_t table = 0;
  auto operator<=>(const FwmarkRule&) const = default;
  std::string toString() const;  // as `ip rule` would take it: "ip -4 rule add fwmark ..."
};

class RuleTable {
 public:
  virtual ~RuleTable() = default;
  // The rules of a family that match a fwmark and look up a table; others are not listed.
  virtual Result<std::vector<FwmarkRule>> list(Family family) = 0;
  virtual Result<void> add(const FwmarkRule& rule) = 0;
  virtual Result<void> remove(const FwmarkRule& rule) = 0;
};

}  // namespace portcullis::datapath
