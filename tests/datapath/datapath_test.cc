#include "datapath/datapath.h"

#include <gtest/gtest.h>

#include "datapath/datapath_error.h"
#include "datapath/payload_renderer.h"
#include "tests/datapath/fakes.h"
#include "tests/datapath/sample_plan.h"

namespace portcullis::datapath {
namespace {

using testing::readTestData;
using testing::samplePlan;
using Lines = std::vector<std::string>;

// A kernel whose iptables-save shows what the last restore of each family installed.
struct FakeKernel : testing::FakeKernel {
  FakeKernel() {
    runner.on_run = [this](const std::vector<std::string>& argv, std::string_view input) {
      const bool removal = input.find("-X PORTCULLIS") != std::string_view::npos;
      if (argv[0] == "iptables-nft-restore")
        runner.saves["iptables-nft-save"] = removal ? "" : readTestData("installed_v4.save");
      if (argv[0] == "ip6tables-nft-restore")
        runner.saves["ip6tables-nft-save"] = removal ? "" : readTestData("installed_v6.save");
    };
  }
};

const Lines kInstall = {
    "iptables-nft-save",
    "iptables-nft-restore -w --noflush",
    "ip6tables-nft-save",
    "ip6tables-nft-restore -w --noflush",
    "ip -4 rule add fwmark 0x200/0xf00 lookup 2004 priority 9",
    "ip -4 route add local 0.0.0.0/0 dev lo table 2004",
    "ip -6 rule add fwmark 0x200/0xf00 lookup 2004 priority 9",
    "ip -6 route add local ::/0 dev lo table 2004",
};

const Lines kTeardown = {
    "ip -6 route del local ::/0 dev lo table 2004",
    "ip -4 route del local 0.0.0.0/0 dev lo table 2004",
    "ip -6 rule del fwmark 0x200/0xf00 lookup 2004 priority 9",
    "ip -4 rule del fwmark 0x200/0xf00 lookup 2004 priority 9",
    "ip6tables-nft-save",
    "ip6tables-nft-restore -w --noflush",
    "iptables-nft-save",
    "iptables-nft-restore -w --noflush",
};

TEST(Datapath, InstallsIPv4ThenIPv6ThenRulesAndRoutes) {
  FakeKernel k;
  auto datapath = Datapath::install(k.kernel, samplePlan());
  ASSERT_TRUE(datapath);
  EXPECT_EQ(k.journal, kInstall);
  EXPECT_EQ(k.runner.stdins[1], renderInstall(samplePlan(), Family::kV4, {}));
  EXPECT_EQ(k.runner.stdins[3], renderInstall(samplePlan(), Family::kV6, {}));
  EXPECT_TRUE(datapath.value().installed());
  EXPECT_TRUE(datapath.value().teardown());
}

TEST(Datapath, RollsBackIPv4WhenIPv6Fails) {
  FakeKernel k;
  k.runner.fail = {"ip6tables-nft-restore"};
  auto datapath = Datapath::install(k.kernel, samplePlan());
  ASSERT_FALSE(datapath);
  EXPECT_EQ(datapath.error(), DatapathError::kCommandFailed);
  EXPECT_EQ(k.journal, (Lines{
                           "iptables-nft-save",
                           "iptables-nft-restore -w --noflush",
                           "ip6tables-nft-save",
                           "ip6tables-nft-restore -w --noflush",
                           "iptables-nft-save",
                           "iptables-nft-restore -w --noflush",
                       }));
  EXPECT_EQ(k.runner.stdins[5],
            *renderRemoval(IptablesState::parse(readTestData("installed_v4.save"))));
  EXPECT_TRUE(k.rules.rules.empty());
  EXPECT_TRUE(k.routes.routes.empty());
}

TEST(Datapath, FailedIPv4ChangesNothingElse) {
  FakeKernel k;
  k.runner.fail = {"iptables-nft-restore"};
  ASSERT_FALSE(Datapath::install(k.kernel, samplePlan()));
  EXPECT_EQ(k.journal, (Lines{"iptables-nft-save", "iptables-nft-restore -w --noflush"}));
}

TEST(Datapath, RollsBackEverythingWhenARouteCannotBeAdded) {
  FakeKernel k;
  k.routes.fail_add = true;
  ASSERT_FALSE(Datapath::install(k.kernel, samplePlan()));
  EXPECT_EQ(k.journal, (Lines{
                           "iptables-nft-save",
                           "iptables-nft-restore -w --noflush",
                           "ip6tables-nft-save",
                           "ip6tables-nft-restore -w --noflush",
                           "ip -4 rule add fwmark 0x200/0xf00 lookup 2004 priority 9",
                           "ip -4 route add local 0.0.0.0/0 dev lo table 2004",
                           "ip -4 rule del fwmark 0x200/0xf00 lookup 2004 priority 9",
                           "ip6tables-nft-save",
                           "ip6tables-nft-restore -w --noflush",
                           "iptables-nft-save",
                           "iptables-nft-restore -w --noflush",
                       }));
  EXPECT_TRUE(k.rules.rules.empty());
}

TEST(Datapath, TearsDownInReverseOrder) {
  FakeKernel k;
  auto datapath = Datapath::install(k.kernel, samplePlan());
  ASSERT_TRUE(datapath);
  k.journal.clear();
  EXPECT_TRUE(datapath.value().teardown());
  EXPECT_EQ(k.journal, kTeardown);
  EXPECT_FALSE(datapath.value().installed());
  EXPECT_TRUE(k.rules.rules.empty());
  EXPECT_TRUE(k.routes.routes.empty());
}

TEST(Datapath, DestructorTearsDownOnceAndMovedFromObjectsNever) {
  FakeKernel k;
  {
    auto installed = Datapath::install(k.kernel, samplePlan());
    ASSERT_TRUE(installed);
    Datapath owner = std::move(installed.value());
    Datapath moved = std::move(owner);
    EXPECT_FALSE(owner.installed());  // NOLINT(bugprone-use-after-move): that is the point
    k.journal.clear();
  }
  EXPECT_EQ(k.journal, kTeardown);
}

TEST(Datapath, ReplacesLeftoverRulesAndRoutesButNotForeignOnes) {
  FakeKernel k;
  k.runner.saves["iptables-nft-save"] = readTestData("installed_v4.save");
  const FwmarkRule stale{Family::kV4, 5, 0x200, 0xf00, 2004};
  const FwmarkRule foreign{Family::kV4, 7, 0x200, 0xf00, 100};
  k.rules.rules = {stale, foreign};
  k.routes.routes = {TableRoute{2004, *Cidr::parse("198.18.0.0/15"), false, "eth0"}};
  auto datapath = Datapath::install(k.kernel, samplePlan());
  ASSERT_TRUE(datapath);
  EXPECT_EQ(k.rules.rules, (std::vector<FwmarkRule>{foreign, {Family::kV4, 9, 0x200, 0xf00, 2004},
                                                    {Family::kV6, 9, 0x200, 0xf00, 2004}}));
  EXPECT_EQ(k.routes.routes.size(), 2u);
  // Leftover chains are refilled in place, never removed first: no jump is inserted again.
  EXPECT_EQ(k.runner.stdins[1].find("-I "), std::string::npos);
  EXPECT_EQ(k.runner.stdins[1].find("-X PORTCULLIS_PRE_mangle"), std::string::npos);
}

TEST(Datapath, UpdateRefillsChainsWithoutTouchingJumpsRulesOrRoutes) {
  FakeKernel k;
  auto datapath = Datapath::install(k.kernel, samplePlan());
  ASSERT_TRUE(datapath);
  k.journal.clear();
  DatapathPlan next = samplePlan();
  next.classifications.pop_back();
  ASSERT_TRUE(datapath.value().update(next));
  EXPECT_EQ(k.journal, (Lines{"iptables-nft-restore -w --noflush", "ip6tables-nft-restore -w --noflush"}));
  const std::string& payload = k.runner.stdins.back();
  EXPECT_EQ(payload.find("-I "), std::string::npos);
  EXPECT_EQ(payload.find("web-ingress"), std::string::npos);
  EXPECT_NE(payload.find(":PORTCULLIS_PRE_mangle - [0:0]"), std::string::npos);
  EXPECT_EQ(datapath.value().plan(), next);
}

TEST(Datapath, WithoutIPv6InstallsIPv4OnlyAndRemovesIPv6Leftovers) {
  FakeKernel k;
  k.runner.saves["ip6tables-nft-save"] = readTestData("installed_v6.save");
  DatapathPlan plan = samplePlan();
  plan.ipv6 = false;
  ASSERT_TRUE(Datapath::install(k.kernel, plan));
  EXPECT_EQ(k.journal, (Lines{
                           "iptables-nft-save",
                           "iptables-nft-restore -w --noflush",
                           "ip6tables-nft-save",
                           "ip6tables-nft-restore -w --noflush",
                           "ip -4 rule add fwmark 0x200/0xf00 lookup 2004 priority 9",
                           "ip -4 route add local 0.0.0.0/0 dev lo table 2004",
                           // the destructor
                           "ip -4 route del local 0.0.0.0/0 dev lo table 2004",
                           "ip -4 rule del fwmark 0x200/0xf00 lookup 2004 priority 9",
                           "ip6tables-nft-save",
                           "iptables-nft-save",
                           "iptables-nft-restore -w --noflush",
                       }));
  EXPECT_NE(k.runner.stdins[3].find("-X PORTCULLIS_PRE_mangle"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::datapath
