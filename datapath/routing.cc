// The value types of rule_table.h and route_table.h: printing and the desired routes.
#include <cstdio>

#include "datapath/route_table.h"
#include "datapath/rule_table.h"

namespace portcullis::datapath {

std::string FwmarkRule::toString() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "ip %s rule add fwmark 0x%x/0x%x lookup %u priority %u",
                family == Family::kV4 ? "-4" : "-6", mark, mask, table, priority);
  return buf;
}

std::string TableRoute::toString() const {
  std::string out = std::string("ip ") + (family() == Family::kV4 ? "-4" : "-6") + " route add " +
                    (local ? "local " : "") + destination.toString();
  if (!device.empty()) out += " dev " + device;
  return out + " table " + std::to_string(table);
}

TableRoute localDefaultRoute(Family family, uint32_t table) {
  const IpAddress any = family == Family::kV4 ? IpAddress::v4(0) : IpAddress::v6({});
  return TableRoute{table, Cidr(any, 0), true, "lo"};
}

}  // namespace portcullis::datapath
