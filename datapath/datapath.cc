#include "datapath/datapath.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/log.h"
#include "datapath/leftovers.h"
#include "datapath/marks.h"
#include "datapath/payload_renderer.h"

namespace portcullis::datapath {
namespace {

std::vector<Family> families(const DatapathPlan& plan) {
  if (plan.ipv6) return {Family::kV4, Family::kV6};
  return {Family::kV4};
}

const char* name(Family f) { return f == Family::kV4 ? "IPv4" : "IPv6"; }

Result<void> installFamily(Iptables& iptables, const DatapathPlan& plan, Family family) {
  PC_TRY(saved, iptables.save(family));
  const std::string payload = renderInstall(plan, family, IptablesState::parse(saved));
  PC_TRY(iptables.restore(family, payload));
  log::debug("installed ", name(family), " chains");
  return ok();
}

void removeAll(const Kernel& kernel, uint32_t table, std::vector<Family> order) {
  if (auto r = removeRoutingLeftovers(*kernel.rules, *kernel.routes, table); !r)
    log::error("rollback of rules and routes failed: ", r.error().message());
  for (Family f : order) {
    if (auto r = removeIptablesLeftovers(*kernel.iptables, f); !r)
      log::error("rollback of ", name(f), " chains failed: ", r.error().message());
  }
}

}  // namespace

std::vector<FwmarkRule> desiredRules(const DatapathPlan& plan) {
  std::vector<FwmarkRule> out;
  for (Family f : families(plan))
    out.push_back(FwmarkRule{f, plan.rule_priority, kMarkToProxy, kMarkMagicMask, plan.route_table});
  return out;
}

std::vector<TableRoute> desiredRoutes(const DatapathPlan& plan) {
  std::vector<TableRoute> out;
  for (Family f : families(plan)) out.push_back(localDefaultRoute(f, plan.route_table));
  return out;
}

Result<Datapath> Datapath::install(const Kernel& kernel, DatapathPlan plan) {
  Datapath datapath(kernel, std::move(plan));
  const DatapathPlan& p = datapath.plan_;
  PC_TRY(installFamily(*kernel.iptables, p, Family::kV4));
  if (p.ipv6) {
    if (auto r = installFamily(*kernel.iptables, p, Family::kV6); !r) {
      log::error("IPv6 installation failed; removing the IPv4 chains again");
      removeAll(kernel, p.route_table, {Family::kV4});
      return r.error();
    }
  } else if (auto r = removeIptablesLeftovers(*kernel.iptables, Family::kV6); !r) {
    log::warn("could not remove IPv6 leftovers: ", r.error().message());
  }
  if (auto r = datapath.syncRouting(p); !r) {
    log::error("routing setup failed; removing everything installed");
    removeAll(kernel, p.route_table, {Family::kV6, Family::kV4});
    return r.error();
  }
  datapath.installed_ = true;
  return datapath;
}

Datapath::Datapath(Datapath&& other) noexcept
    : kernel_(other.kernel_), plan_(std::move(other.plan_)),
      installed_(std::exchange(other.installed_, false)) {}

Datapath& Datapath::operator=(Datapath&& other) noexcept {
  if (this != &other) {
    if (installed_) (void)teardown();
    kernel_ = other.kernel_;
    plan_ = std::move(other.plan_);
    installed_ = std::exchange(other.installed_, false);
  }
  return *this;
}

Datapath::~Datapath() {
  if (!installed_) return;
  try {
    if (auto r = teardown(); !r) log::error("datapath teardown incomplete: ", r.error().message());
  } catch (...) {
    // A destructor must not throw (the logger may, on allocation failure).
  }
}

Result<void> Datapath::syncRouting(const DatapathPlan& plan) {
  const auto want_rules = desiredRules(plan);
  const auto want_routes = desiredRoutes(plan);
  for (Family f : {Family::kV4, Family::kV6}) {
    // Rules first, then routes: the reverse of teardown.
    PC_TRY(rules, kernel_.rules->list(f));
    for (const auto& rule : rules) {
      const bool ours = isOurFwmarkRule(rule, plan.route_table) ||
                        isOurFwmarkRule(rule, plan_.route_table);
      if (ours && std::find(want_rules.begin(), want_rules.end(), rule) == want_rules.end()) {
        PC_TRY(kernel_.rules->remove(rule));
      }
    }
    for (const auto& want : want_rules) {
      if (want.family == f && std::find(rules.begin(), rules.end(), want) == rules.end()) {
        PC_TRY(kernel_.rules->add(want));
      }
    }
    // The old table too: a reload may have moved the routes.
    for (uint32_t table : std::set<uint32_t>{plan_.route_table, plan.route_table}) {
      PC_TRY(routes, kernel_.routes->list(f, table));
      for (const auto& route : routes) {
        if (std::find(want_routes.begin(), want_routes.end(), route) == want_routes.end()) {
          PC_TRY(kernel_.routes->remove(route));
        }
      }
      for (const auto& want : want_routes) {
        if (want.table == table && want.family() == f &&
            std::find(routes.begin(), routes.end(), want) == routes.end()) {
          PC_TRY(kernel_.routes->add(want));
        }
      }
    }
  }
  return ok();
}

Result<void> Datapath::update(const DatapathPlan& plan) {
  PayloadEdits refill;
  for (const auto& c : kOurChains) refill.refill.push_back(c.name);
  std::vector<Family> done;
  for (Family f : families(plan)) {
    if (auto r = kernel_.iptables->restore(f, renderEdits(plan, f, refill)); !r) {
      // Put back what the other family had, so both families enforce the same policy.
      for (Family undo : done) (void)kernel_.iptables->restore(undo, renderEdits(plan_, undo, refill));
      return r.error();
    }
    done.push_back(f);
  }
  if (plan.route_table != plan_.route_table || plan.rule_priority != plan_.rule_priority ||
      plan.ipv6 != plan_.ipv6) {
    PC_TRY(syncRouting(plan));
  }
  plan_ = plan;
  return ok();
}

Result<void> Datapath::teardown() {
  installed_ = false;
  Result<void> first = ok();
  auto keep = [&first](Result<void> r) {
    if (!r && first) first = r.error();
  };
  for (Family f : {Family::kV6, Family::kV4}) {
    auto routes = kernel_.routes->list(f, plan_.route_table);
    if (!routes) keep(routes.error());
    else
      for (const auto& route : routes.value()) keep(kernel_.routes->remove(route));
  }
  for (Family f : {Family::kV6, Family::kV4}) {
    auto rules = kernel_.rules->list(f);
    if (!rules) keep(rules.error());
    else
      for (const auto& rule : rules.value())
        if (isOurFwmarkRule(rule, plan_.route_table)) keep(kernel_.rules->remove(rule));
  }
  for (Family f : {Family::kV6, Family::kV4}) {
    auto removed = removeIptablesLeftovers(*kernel_.iptables, f);
    if (!removed) keep(removed.error());
  }
  if (first) log::info("datapath removed");
  return first;
}

}  // namespace portcullis::datapath
