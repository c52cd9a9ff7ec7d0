// libnl-3 wrapped once (STYLE.md 9): C handles live in unique_ptr with deleters, and every
// negative NLE_* code becomes DatapathError::kNetlink with nl_geterror() logged.
#include "datapath/netlink_routing.h"

#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <limits>

#include "common/log.h"
#include "datapath/datapath_error.h"

namespace portcullis::datapath {
namespace {

struct SockFree { void operator()(nl_sock* s) const { nl_socket_free(s); } };
struct CacheFree { void operator()(nl_cache* c) const { nl_cache_free(c); } };
struct RuleFree { void operator()(rtnl_rule* r) const { rtnl_rule_put(r); } };
struct RouteFree { void operator()(rtnl_route* r) const { rtnl_route_put(r); } };
struct AddrFree { void operator()(nl_addr* a) const { nl_addr_put(a); } };
using SockPtr = std::unique_ptr<nl_sock, SockFree>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;
using RulePtr = std::unique_ptr<rtnl_rule, RuleFree>;
using RoutePtr = std::unique_ptr<rtnl_route, RouteFree>;
using AddrPtr = std::unique_ptr<nl_addr, AddrFree>;

int af(Family f) { return f == Family::kV4 ? AF_INET : AF_INET6; }

Result<void> check(int rc, const char* what, const std::string& object) {
  if (rc >= 0) return ok();
  log::error("netlink ", what, " ", object, ": ", nl_geterror(rc));
  return DatapathError::kNetlink;
}

Result<SockPtr> connect() {
  SockPtr sock(nl_socket_alloc());
  if (!sock) return DatapathError::kNetlink;
  PC_TRY(check(nl_connect(sock.get(), NETLINK_ROUTE), "connect", "NETLINK_ROUTE"));
  return sock;
}

AddrPtr toNlAddr(const Cidr& cidr) {
  const auto& b = cidr.address().bytes();
  AddrPtr a(nl_addr_build(af(cidr.family()), b.data(), cidr.family() == Family::kV4 ? 4 : 16));
  if (a) nl_addr_set_prefixlen(a.get(), cidr.prefixLength());
  return a;
}

Cidr fromNlAddr(nl_addr* a, Family family) {
  std::array<uint8_t, 16> bytes{};
  int prefix = 0;
  if (a != nullptr) {
    const unsigned len = nl_addr_get_len(a);
    if (len <= bytes.size()) std::memcpy(bytes.data(), nl_addr_get_binary_addr(a), len);
    prefix = static_cast<int>(nl_addr_get_prefixlen(a));
  }
  const IpAddress address =
      family == Family::kV4
          ? IpAddress::v4((uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                          (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]})
          : IpAddress::v6(bytes);
  return Cidr(address, prefix);
}

class NetlinkRuleTable final : public RuleTable {
 public:
  explicit NetlinkRuleTable(SockPtr sock) : sock_(std::move(sock)) {}

  Result<std::vector<FwmarkRule>> list(Family family) override {
    nl_cache* raw = nullptr;
    PC_TRY(check(rtnl_rule_alloc_cache(sock_.get(), af(family), &raw), "dump", "rules"));
    CachePtr cache(raw);
    std::vector<FwmarkRule> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_rule*>(o);
      // The dump is not filtered by family: IPv4 rules come back for an IPv6 request too.
      if (rtnl_rule_get_family(r) != af(family)) continue;
      const uint32_t mark = rtnl_rule_get_mark(r);
      // libnl answers UINT32_MAX for "no fwmark attribute".
      if (mark == std::numeric_limits<uint32_t>::max() || rtnl_rule_get_action(r) != FR_ACT_TO_TBL)
        continue;
      out.push_back(FwmarkRule{family, rtnl_rule_get_prio(r), mark, rtnl_rule_get_mask(r),
                               rtnl_rule_get_table(r)});
    }
    return out;
  }

  Result<void> add(const FwmarkRule& rule) override {
    RulePtr r = build(rule);
    const int rc = rtnl_rule_add(sock_.get(), r.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (rc == -NLE_EXIST) return ok();
    return check(rc, "add", rule.toString());
  }

  Result<void> remove(const FwmarkRule& rule) override {
    RulePtr r = build(rule);
    const int rc = rtnl_rule_delete(sock_.get(), r.get(), 0);
    if (rc == -NLE_OBJ_NOTFOUND) return ok();
    return check(rc, "delete", rule.toString());
  }

 private:
  static RulePtr build(const FwmarkRule& rule) {
    RulePtr r(rtnl_rule_alloc());
    rtnl_rule_set_family(r.get(), af(rule.family));
    rtnl_rule_set_prio(r.get(), rule.priority);
    rtnl_rule_set_mark(r.get(), rule.mark);
    rtnl_rule_set_mask(r.get(), rule.mask);
    rtnl_rule_set_table(r.get(), rule.table);
    rtnl_rule_set_action(r.get(), FR_ACT_TO_TBL);
    return r;
  }
  SockPtr sock_;
};

class NetlinkRouteTable final : public RouteTable {
 public:
  explicit NetlinkRouteTable(SockPtr sock) : sock_(std::move(sock)) {}

  Result<std::vector<TableRoute>> list(Family family, uint32_t table) override {
    nl_cache* raw = nullptr;
    PC_TRY(check(rtnl_route_alloc_cache(sock_.get(), af(family), 0, &raw), "dump", "routes"));
    CachePtr cache(raw);
    std::vector<TableRoute> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_route*>(o);
      if (rtnl_route_get_table(r) != table || rtnl_route_get_family(r) != af(family)) continue;
      TableRoute route{table, fromNlAddr(rtnl_route_get_dst(r), family),
                       rtnl_route_get_type(r) == RTN_LOCAL, ""};
      if (rtnl_route_get_nnexthops(r) > 0) {
        char name[IF_NAMESIZE] = {};
        const int index = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
        if (index > 0 && if_indextoname(static_cast<unsigned>(index), name) != nullptr)
          route.device = name;
      }
      out.push_back(std::move(route));
    }
    return out;
  }

  Result<void> add(const TableRoute& route) override {
    RoutePtr r = build(route);
    const unsigned index = if_nametoindex(route.device.c_str());
    if (index == 0) {
      log::error("netlink add ", route.toString(), ": no device ", route.device);
      return DatapathError::kNetlink;
    }
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, static_cast<int>(index));
    rtnl_route_add_nexthop(r.get(), nh);  // the route owns it from here
    const int rc = rtnl_route_add(sock_.get(), r.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (rc == -NLE_EXIST) return ok();
    return check(rc, "add", route.toString());
  }

  Result<void> remove(const TableRoute& route) override {
    RoutePtr r = build(route);
    const int rc = rtnl_route_delete(sock_.get(), r.get(), 0);
    if (rc == -NLE_OBJ_NOTFOUND) return ok();
    return check(rc, "delete", route.toString());
  }

 private:
  static RoutePtr build(const TableRoute& route) {
    RoutePtr r(rtnl_route_alloc());
    rtnl_route_set_family(r.get(), static_cast<uint8_t>(af(route.family())));
    rtnl_route_set_table(r.get(), route.table);
    // What `ip route add` sets, so `ip route show table T` reads as SPEC.md writes it.
    rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
    AddrPtr dst = toNlAddr(route.destination);
    rtnl_route_set_dst(r.get(), dst.get());  // takes its own reference
    if (route.local) {
      rtnl_route_set_type(r.get(), RTN_LOCAL);
      rtnl_route_set_scope(r.get(), RT_SCOPE_HOST);
    } else {
      // Deleting a leftover of another type: any scope matches.
      rtnl_route_set_scope(r.get(), RT_SCOPE_NOWHERE);
    }
    return r;
  }
  SockPtr sock_;
};

}  // namespace

Result<std::unique_ptr<RuleTable>> openNetlinkRuleTable() {
  PC_TRY(sock, connect());
  return std::unique_ptr<RuleTable>(new NetlinkRuleTable(std::move(sock)));
}

Result<std::unique_ptr<RouteTable>> openNetlinkRouteTable() {
  PC_TRY(sock, connect());
  return std::unique_ptr<RouteTable>(new NetlinkRouteTable(std::move(sock)));
}

}  // namespace portcullis::datapath
