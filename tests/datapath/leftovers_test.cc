#include "datapath/leftovers.h"

#include <gtest/gtest.h>

#include "tests/datapath/fakes.h"
#include "tests/datapath/sample_plan.h"

namespace portcullis::datapath {
namespace {

using testing::FakeCommandRunner;
using testing::FakeRouteTable;
using testing::FakeRuleTable;
using testing::Journal;

TEST(Leftovers, RoutingCleanupRemovesOurRuleAtAnyPriorityAndEveryRouteInOurTable) {
  Journal journal;
  FakeRuleTable rules(journal);
  FakeRouteTable routes(journal);
  const FwmarkRule other_table{Family::kV4, 9, 0x200, 0xf00, 100};
  const FwmarkRule other_mark{Family::kV6, 9, 0x800, 0xf00, 2004};
  rules.rules = {{Family::kV4, 9, 0x200, 0xf00, 2004}, other_table, {Family::kV6, 30, 0x200, 0xf00, 2004}, other_mark};
  routes.routes = {localDefaultRoute(Family::kV4, 2004), localDefaultRoute(Family::kV6, 2004),
                   localDefaultRoute(Family::kV4, 2005)};
  auto removed = removeRoutingLeftovers(rules, routes, 2004);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed.value(), 4u);
  EXPECT_EQ(rules.rules, (std::vector<FwmarkRule>{other_table, other_mark}));
  EXPECT_EQ(routes.routes, (std::vector<TableRoute>{localDefaultRoute(Family::kV4, 2005)}));
  EXPECT_EQ(removeRoutingLeftovers(rules, routes, 2004).value(), 0u);
}

TEST(Leftovers, IptablesCleanupIsIdempotentAndToleratesAMissingBackend) {
  Journal journal;
  FakeCommandRunner runner(journal);
  Iptables legacy(runner, IptablesBackend::kLegacy);
  runner.saves["iptables-legacy-save"] = testing::readTestData("installed_v4.save");
  runner.on_run = [&](const std::vector<std::string>& argv, std::string_view) {
    if (argv[0] == "iptables-legacy-restore") runner.saves["iptables-legacy-save"] = "";
  };
  EXPECT_EQ(removeIptablesLeftovers(legacy, Family::kV4).value(), 8u);  // 4 jumps, 4 chains
  EXPECT_EQ(removeIptablesLeftovers(legacy, Family::kV4).value(), 0u);
  runner.missing = {"ip6tables-legacy-save"};
  EXPECT_EQ(removeIptablesLeftovers(legacy, Family::kV6).value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"iptables-legacy-save", "iptables-legacy-restore -w --noflush",
                                               "iptables-legacy-save", "ip6tables-legacy-save"}));
}

TEST(Iptables, AutoPrefersTheBackendThatHoldsTheHostsRules) {
  Journal journal;
  FakeCommandRunner runner(journal);
  runner.saves["iptables-legacy-save"] = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n";
  EXPECT_EQ(Iptables::detect(runner), IptablesBackend::kLegacy);
  // Our own leftovers do not count (were they counted, both would hold rules and -V decide).
  runner.saves["iptables-legacy-save"] =
      "*mangle\n-A PREROUTING -m comment --comment \"portcullis: jump\" -j PORTCULLIS_PRE_mangle\n"
      "-A PORTCULLIS_PRE_mangle -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n";
  runner.saves["iptables-nft-save"] = "*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n";
  runner.saves["iptables"] = "iptables v1.8.9 (legacy)\n";
  EXPECT_EQ(Iptables::detect(runner), IptablesBackend::kNft);
  // Neither holds rules: what `iptables -V` says.
  runner.saves.clear();
  runner.saves["iptables"] = "iptables v1.8.9 (legacy)\n";
  EXPECT_EQ(Iptables::detect(runner), IptablesBackend::kLegacy);
  runner.saves["iptables"] = "iptables v1.8.9 (nf_tables)\n";
  EXPECT_EQ(Iptables::detect(runner), IptablesBackend::kNft);
}

}  // namespace
}  // namespace portcullis::datapath
