// Routes in our routing table: `local 0.0.0.0/0 dev lo table T` and its IPv6 twin deliver
// marked packets to the local TPROXY listener.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace portcullis::datapath {

struct TableRoute {
  uint32_t table = 0;
  Cidr destination;  // its family is the route's
  bool local = true;           // RTN_LOCAL; false: any other type (found as a leftover)
  std::string device = "lo";   // output device; empty when the route has none
  auto operator<=>(const TableRoute&) const = default;
  Family family() const { return destination.family(); }
  std::string toString() const;  // "ip -4 route add local 0.0.0.0/0 dev lo table 2004"
};

class RouteTable {
 public:
  virtual ~RouteTable() = default;
  virtual Result<std::vector<TableRoute>> list(Family family, uint32_t table) = 0;
  virtual Result<void> add(const TableRoute& route) = 0;
  virtual Result<void> remove(const TableRoute& route) = 0;
};

// The two routes of SPEC.md for `table`.
TableRoute localDefaultRoute(Family family, uint32_t table);

}  // namespace portcullis::datapath
