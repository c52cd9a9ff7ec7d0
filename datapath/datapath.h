// The owner of everything portcullis installs in the kernel (DESIGN.md "Ownership and
// lifetime"): our iptables chains and jumps for both families, the fwmark rules and the local
// routes. Move-only; its destructor tears down what teardown() did not, logs and never throws.
#pragma once

#include <vector>

#include "common/result.h"
#include "datapath/datapath_plan.h"
#include "datapath/iptables.h"
#include "datapath/route_table.h"
#include "datapath/rule_table.h"

namespace portcullis::datapath {

// The kernel seams, owned by the caller and outliving every Datapath made with them.
struct Kernel {
  Iptables* iptables = nullptr;
  RuleTable* rules = nullptr;
  RouteTable* routes = nullptr;
};

// The netlink state a plan asks for: one fwmark rule and one local route per family.
std::vector<FwmarkRule> desiredRules(const DatapathPlan& plan);
std::vector<TableRoute> desiredRoutes(const DatapathPlan& plan);

class Datapath {
 public:
  // Replaces any leftovers with `plan` in one iptables-restore per family (IPv4, then IPv6),
  // then the rules and routes. On failure everything of ours is removed again.
  static Result<Datapath> install(const Kernel& kernel, DatapathPlan plan);

  Datapath(Datapath&& other) noexcept;
  Datapath& operator=(Datapath&& other) noexcept;
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;
  ~Datapath();

  // A new policy: one restore per family refills our chains (atomic within the family); jumps
  // are left alone, rules and routes change only when their table or priority did.
  Result<void> update(const DatapathPlan& plan);
  // Routes, rules, then jumps and chains (IPv6, then IPv4). Best effort: every step is tried,
  // the first error is returned.
  Result<void> teardown();

  const DatapathPlan& plan() const { return plan_; }
  bool installed() const { return installed_; }

 private:
  Datapath(const Kernel& kernel, DatapathPlan plan) : kernel_(kernel), plan_(std::move(plan)) {}
  Result<void> syncRouting(const DatapathPlan& plan);
  Kernel kernel_;
  DatapathPlan plan_;
  bool installed_ = false;
};

}  // namespace portcullis::datapath
