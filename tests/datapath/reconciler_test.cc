#include "datapath/reconciler.h"

#include <gtest/gtest.h>

#include "tests/datapath/fakes.h"
#include "tests/datapath/sample_plan.h"

namespace portcullis::datapath {
namespace {

using testing::readTestData;

std::string without(std::string text, const std::string& line) {
  const auto at = text.find(line + "\n");
  EXPECT_NE(at, std::string::npos) << line;
  if (at != std::string::npos) text.erase(at, line.size() + 1);
  return text;
}

const std::string kTproxyDns =
    "-A PORTCULLIS_PRE_mangle -p udp -m mark --mark 0x234e0200 -m comment --comment \"portcullis: "
    "tproxy "
    "portcullis-dns-egress\" -j TPROXY --on-port 20003 --on-ip 127.0.0.1 --tproxy-mark "
    "0x200/0xffffffff";
const std::string kJumpPreMangle =
    "-A PREROUTING -m comment --comment \"portcullis: jump\" -j PORTCULLIS_PRE_mangle";

class ReconcilerDecision : public ::testing::Test {
 protected:
  std::string installed = readTestData("installed_v4.save");
  InstalledForm form = InstalledForm::readBack(IptablesState::parse(installed));
};

TEST_F(ReconcilerDecision, LearnsTheCanonicalFormAsPrinted) {
  const auto& pre = form.chains.at("PORTCULLIS_PRE_mangle");
  ASSERT_EQ(pre.size(), 5u);
  // Written as "! --syn", printed as iptables-save spells it.
  EXPECT_NE(pre[0].find("-m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN"), std::string::npos);
  EXPECT_EQ(form.jumps.at("PORTCULLIS_PRE_mangle"), kJumpPreMangle.substr(14));
}

TEST_F(ReconcilerDecision, NothingDriftedNothingToDo) {
  const auto repair = decideRepair(form, IptablesState::parse(installed));
  EXPECT_FALSE(repair.needed());
  EXPECT_TRUE(repair.edits.refill.empty());
}

TEST_F(ReconcilerDecision, DeletedTproxyRuleRefillsOnlyItsChain) {
  const auto repair = decideRepair(form, IptablesState::parse(without(installed, kTproxyDns)));
  ASSERT_EQ(repair.findings.size(), 1u);
  EXPECT_EQ(repair.edits.refill, (std::vector<std::string_view>{"PORTCULLIS_PRE_mangle"}));
  EXPECT_TRUE(repair.edits.add_jumps.empty());
  EXPECT_TRUE(repair.edits.deletes.empty());
}

TEST_F(ReconcilerDecision, ChangedRuleRefillsItsChain) {
  std::string changed = installed;
  changed.replace(changed.find("--on-port 20003"), 15, "--on-port 20004");
  EXPECT_EQ(decideRepair(form, IptablesState::parse(changed)).edits.refill,
            (std::vector<std::string_view>{"PORTCULLIS_PRE_mangle"}));
}

TEST_F(ReconcilerDecision, DeletedJumpIsReAddedAlone) {
  const auto repair = decideRepair(form, IptablesState::parse(without(installed, kJumpPreMangle)));
  ASSERT_EQ(repair.findings.size(), 1u);
  EXPECT_TRUE(repair.edits.refill.empty());
  EXPECT_EQ(repair.edits.add_jumps, (std::vector<std::string_view>{"PORTCULLIS_PRE_mangle"}));
}

TEST_F(ReconcilerDecision, DuplicateJumpIsDeleted) {
  std::string doubled = installed;
  doubled.insert(doubled.find(kJumpPreMangle), kJumpPreMangle + "\n");
  const auto repair = decideRepair(form, IptablesState::parse(doubled));
  ASSERT_EQ(repair.edits.deletes.size(), 1u);
  EXPECT_EQ(repair.edits.deletes[0].table, "mangle");
  EXPECT_EQ(repair.edits.deletes[0].rule.line(), kJumpPreMangle);
}

TEST_F(ReconcilerDecision, FlushedAndDeletedChainIsRecreatedWithItsJump) {
  std::string gone = without(installed, kJumpPreMangle);
  gone = without(gone, ":PORTCULLIS_PRE_mangle - [0:0]");
  for (auto at = gone.find("-A PORTCULLIS_PRE_mangle"); at != std::string::npos;
       at = gone.find("-A PORTCULLIS_PRE_mangle"))
    gone.erase(at, gone.find('\n', at) - at + 1);
  const auto repair = decideRepair(form, IptablesState::parse(gone));
  EXPECT_EQ(repair.edits.refill, (std::vector<std::string_view>{"PORTCULLIS_PRE_mangle"}));
  EXPECT_EQ(repair.edits.add_jumps, (std::vector<std::string_view>{"PORTCULLIS_PRE_mangle"}));
}

TEST_F(ReconcilerDecision, ForeignChangesAreNotDrift) {
  std::string busy = installed;
  busy.insert(busy.find("COMMIT"), "-A PREROUTING -i eth7 -j ACCEPT\n");
  EXPECT_FALSE(decideRepair(form, IptablesState::parse(busy)).needed());
}

// The whole loop against fakes: the plan whose installed form is installed_v4.save.
DatapathPlan installedPlan() {
  DatapathPlan plan;
  plan.ipv6 = false;
  plan.listeners = {{"portcullis-http-egress", 20006, true, false},
                    {"portcullis-dns-egress", 20003, true, true}};
  Classification web;
  web.rule = "web-egress";
  web.interfaces = {"veth+"};
  web.sources = {testing::cidr("198.18.1.0/24")};
  web.destinations = {testing::cidr("198.18.2.0/24")};
  web.port = 80;
  web.listener = "portcullis-http-egress";
  Classification dns;
  dns.rule = "dns-egress";
  dns.port = 53;
  dns.listener = "portcullis-dns-egress";
  Classification dns_udp = dns;
  dns_udp.protocol = IpProtocol::kUdp;
  plan.classifications = {web, dns, dns_udp};
  return plan;
}

// The kernel as installedPlan() leaves it: installed_v4.save, its ip rule and route.
class ReconcilerLoop : public ::testing::Test, protected testing::FakeKernel {
 protected:
  ReconcilerLoop() {
    setSave(installed);
    rules.rules = desiredRules(plan);
    routes.routes = desiredRoutes(plan);
  }
  void setSave(const std::string& text) { runner.saves["iptables-nft-save"] = text; }
  const DatapathPlan plan = installedPlan();
  const std::string installed = readTestData("installed_v4.save");
};

TEST_F(ReconcilerLoop, RepairsAndCountsEachDrift) {
  Reconciler reconciler(kernel, plan);
  ASSERT_TRUE(reconciler.learn());

  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"iptables-nft-save"}));

  setSave(without(installed, kTproxyDns));
  rules.rules.clear();
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 2u);
  EXPECT_EQ(journal, (std::vector<std::string>{
                         "iptables-nft-save",
                         "iptables-nft-restore -w --noflush",
                         "ip -4 rule add fwmark 0x200/0xf00 lookup 2004 priority 9",
                     }));
  // The refill is exactly the rendered chain, in one transaction.
  PayloadEdits refill;
  refill.refill = {"PORTCULLIS_PRE_mangle"};
  EXPECT_EQ(runner.stdins.back(), renderEdits(plan, Family::kV4, refill));
  EXPECT_EQ(reconciler.repairs(), 2u);
}

}  // namespace
}  // namespace portcullis::datapath

namespace portcullis::datapath {
namespace {

class FakeGeneration final : public RulesetGeneration {
 public:
  std::optional<uint32_t> current() override { return value; }
  std::optional<uint32_t> value = 7;
};

TEST_F(ReconcilerLoop, SkipsTheSaveWhileTheRulesetGenerationStandsStill) {
  FakeGeneration generation;
  Reconciler reconciler(kernel, plan, &generation);
  ASSERT_TRUE(reconciler.learn());
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_TRUE(journal.empty()) << "generation unchanged since learn(): no save";

  // Someone deleted a rule: the generation moved, the save shows it, the repair moves it again.
  setSave(without(installed, kTproxyDns));
  generation.value = 8;
  EXPECT_EQ(reconciler.check().value(), 1u);
  setSave(installed);
  generation.value = 9;
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"iptables-nft-save"}));
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_TRUE(journal.empty());
  // Unreadable generation: always compare.
  generation.value.reset();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"iptables-nft-save"}));
  // Netlink drift is found without any save.
  generation.value = 9;
  ASSERT_TRUE(reconciler.check());
  rules.rules.clear();
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 1u);
  EXPECT_EQ(journal,
            (std::vector<std::string>{"ip -4 rule add fwmark 0x200/0xf00 lookup 2004 priority 9"}));
}

}  // namespace
}  // namespace portcullis::datapath

namespace portcullis::datapath {
namespace {

using testing::FakeNftRuleDump;

// With the nf_tables dump: iptables-save runs only when the dump shows a difference.
class ReconcilerWithDump : public ReconcilerLoop {
 protected:
  FakeNftRuleDump dump{journal, runner};
  Reconciler reconciler{kernel, plan, nullptr, &dump};
};

TEST_F(ReconcilerWithDump, LearnsTheDumpNextToTheSaveAndThenSkipsTheSave) {
  ASSERT_TRUE(reconciler.learn());
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip", "iptables-nft-save", "nft dump ip"}));
  EXPECT_TRUE(reconciler.comparesDump(Family::kV4));
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip"}));
}

TEST_F(ReconcilerWithDump, EachDriftIsSeenInTheDumpAndRepairedFromTheSave) {
  struct Case {
    const char* what;
    std::function<std::string(std::string)> drift;
    std::vector<std::string_view> refill, add_jumps;
    size_t deletes;
  };
  const std::vector<Case> cases{
      {"deleted TPROXY rule",
       [](std::string s) { return without(s, kTproxyDns); },
       {"PORTCULLIS_PRE_mangle"},
       {},
       0},
      {"modified rule",
       [](std::string s) { return s.replace(s.find("--on-port 20003"), 15, "--on-port 20004"); },
       {"PORTCULLIS_PRE_mangle"},
       {},
       0},
      {"extra rule in our chain",
       [](std::string s) {
         return s.insert(s.find(kTproxyDns), "-A PORTCULLIS_PRE_mangle -j ACCEPT\n");
       },
       {"PORTCULLIS_PRE_mangle"},
       {},
       0},
      {"deleted jump",
       [](std::string s) { return without(s, kJumpPreMangle); },
       {},
       {"PORTCULLIS_PRE_mangle"},
       0},
      {"duplicate jump",
       [](std::string s) { return s.insert(s.find(kJumpPreMangle), kJumpPreMangle + "\n"); },
       {},
       {},
       1},
  };
  ASSERT_TRUE(reconciler.learn());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    setSave(c.drift(installed));
    journal.clear();
    EXPECT_EQ(reconciler.check().value(), 1u);
    EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip", "iptables-nft-save",
                                                 "iptables-nft-restore -w --noflush"}));
    PayloadEdits edits;
    edits.refill = c.refill;
    edits.add_jumps = c.add_jumps;
    if (c.deletes == 1)
      edits.deletes.push_back({"mangle", IptablesRule{"PREROUTING", kJumpPreMangle.substr(14)}});
    EXPECT_EQ(runner.stdins.back(), renderEdits(plan, Family::kV4, edits));
    // Repaired: the kernel holds the learned rules again, and the dump alone says so.
    setSave(installed);
    journal.clear();
    EXPECT_EQ(reconciler.check().value(), 0u);
    EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip"}));
  }
  EXPECT_EQ(reconciler.repairs(), cases.size());
}

TEST_F(ReconcilerWithDump, ForeignRulesInOurTablesAreNotDrift) {
  ASSERT_TRUE(reconciler.learn());
  std::string busy = installed;
  busy.insert(busy.find(kJumpPreMangle), "-A PREROUTING -i eth7 -j ACCEPT\n");
  busy.insert(busy.find("-A PREROUTING -i eth9"), "-A PREROUTING -i eth8 -j DROP\n");
  setSave(busy);
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip"}));
}

TEST_F(ReconcilerWithDump, ADumpThatDiffersWhileTheTextDoesNotIsLearnedAgain) {
  ASSERT_TRUE(reconciler.learn());
  dump.salt = "!";
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip", "iptables-nft-save", "nft dump ip"}));
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip"}));
  // And drift after the new learning is still found.
  setSave(without(installed, kTproxyDns));
  EXPECT_EQ(reconciler.check().value(), 1u);
}

TEST_F(ReconcilerWithDump, AFailedDumpFallsBackToTheSave) {
  ASSERT_TRUE(reconciler.learn());
  dump.fail = true;
  setSave(without(installed, kTproxyDns));
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 1u);
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip", "iptables-nft-save",
                                               "iptables-nft-restore -w --noflush"}));
  EXPECT_TRUE(reconciler.comparesDump(Family::kV4));
}

TEST_F(ReconcilerWithDump, ARulesetThatNeverHoldsStillIsComparedBySave) {
  dump.salt_per_read = true;
  ASSERT_TRUE(reconciler.learn());
  EXPECT_FALSE(reconciler.comparesDump(Family::kV4)) << "the dumps around the save differ";
  journal.clear();
  EXPECT_EQ(reconciler.check().value(), 0u);
  EXPECT_EQ(journal, (std::vector<std::string>{"nft dump ip", "iptables-nft-save", "nft dump ip"}));
  setSave(without(installed, kJumpPreMangle));
  EXPECT_EQ(reconciler.check().value(), 1u);
}

TEST(InstalledForm, InDumpMatchesRulesByPosition) {
  const IptablesState text = IptablesState::parse(readTestData("installed_v4.save"));
  const InstalledForm read_back = InstalledForm::readBack(text);
  IptablesState dumped = text;
  for (auto& table : dumped.tables)
    for (auto& rule : table.rules) rule.spec = "#" + rule.spec;
  const auto form = InstalledForm::inDump(read_back, text, dumped);
  ASSERT_TRUE(form.has_value());
  EXPECT_EQ(form->jumps.at("PORTCULLIS_PRE_mangle"),
            "#" + read_back.jumps.at("PORTCULLIS_PRE_mangle"));
  EXPECT_EQ(form->chains.at("PORTCULLIS_PRE_mangle").size(),
            read_back.chains.at("PORTCULLIS_PRE_mangle").size());
  EXPECT_EQ(
      form->chains.at("PORTCULLIS_PRE_mangle")[0],
      "-A PORTCULLIS_PRE_mangle #" + read_back.chains.at("PORTCULLIS_PRE_mangle")[0].substr(25));
  // A dump that does not line up with the text (a rule more) is not used.
  dumped.tables[0].rules.push_back({"PREROUTING", "#extra"});
  EXPECT_FALSE(InstalledForm::inDump(read_back, text, dumped).has_value());
}

}  // namespace
}  // namespace portcullis::datapath
