// Recording fakes of the kernel seams (STYLE.md 4): every call lands in one shared journal, so
// tests assert the exact order of iptables runs, rule and route changes across all three.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "datapath/command_runner.h"
#include "datapath/datapath.h"
#include "datapath/datapath_error.h"
#include "datapath/iptables.h"
#include "datapath/iptables_state.h"
#include "datapath/nft_rule_dump.h"
#include "datapath/port_usage.h"
#include "datapath/route_table.h"
#include "datapath/rule_table.h"

namespace portcullis::datapath::testing {

using Journal = std::vector<std::string>;

inline std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Answers iptables-save with `saves[binary]` and records restores. `fail` names the binaries
// (argv[0]) whose next run exits 1; `missing` those that cannot be started at all.
class FakeCommandRunner final : public CommandRunner {
 public:
  explicit FakeCommandRunner(Journal& journal) : journal_(&journal) {}
  Result<CommandOutput> run(const std::vector<std::string>& argv, std::string_view input) override {
    journal_->push_back(join(argv));
    stdins.emplace_back(input);
    if (missing.count(argv[0])) return DatapathError::kSpawnFailed;
    if (fail.count(argv[0])) {
      fail.erase(argv[0]);
      return CommandOutput{1, "", "iptables-restore: line 3 failed\n"};
    }
    if (on_run) on_run(argv, input);
    auto save = saves.find(argv[0]);
    return CommandOutput{0, save == saves.end() ? "" : save->second, ""};
  }
  std::map<std::string, std::string> saves;
  std::set<std::string> fail;
  std::set<std::string> missing;
  std::vector<std::string> stdins;
  std::function<void(const std::vector<std::string>&, std::string_view)> on_run;

 private:
  Journal* journal_;
};

// Answers an nf_tables dump with the raw and mangle tables of what `runner` would answer
// iptables-nft-save with, each spec rewritten ("nft:" + spec + salt), as the kernel's form
// differs from the text. `salt` stands for an attribute the text does not show; `salt_per_read`
// changes it at every read (a ruleset that never holds still); `fail` refuses the next read.
class FakeNftRuleDump final : public NftRuleDump {
 public:
  FakeNftRuleDump(Journal& journal, FakeCommandRunner& runner)
      : journal_(&journal), runner_(&runner) {}
  Result<IptablesState> read(Family family) override {
    journal_->push_back(family == Family::kV4 ? "nft dump ip" : "nft dump ip6");
    if (fail) {
      fail = false;
      return DatapathError::kNetlink;
    }
    if (salt_per_read) salt += "+";
    const auto text =
        runner_->saves[family == Family::kV4 ? "iptables-nft-save" : "ip6tables-nft-save"];
    const IptablesState saved = IptablesState::parse(text);
    IptablesState dumped;
    for (const char* name : {"raw", "mangle"}) {
      const IptablesTable* table = saved.table(name);
      IptablesTable out{name, table ? table->chains : std::vector<std::string>{}, {}};
      if (table != nullptr)
        for (const auto& rule : table->rules)
          out.rules.push_back({rule.chain, "nft:" + rule.spec + salt});
      dumped.tables.push_back(std::move(out));
    }
    return dumped;
  }
  std::string salt;
  bool salt_per_read = false;
  bool fail = false;

 private:
  Journal* journal_;
  FakeCommandRunner* runner_;
};

class FakeRuleTable final : public RuleTable {
 public:
  explicit FakeRuleTable(Journal& journal) : journal_(&journal) {}
  Result<std::vector<FwmarkRule>> list(Family family) override {
    std::vector<FwmarkRule> out;
    for (const auto& r : rules)
      if (r.family == family) out.push_back(r);
    return out;
  }
  Result<void> add(const FwmarkRule& rule) override {
    journal_->push_back(rule.toString());
    if (fail_add) return DatapathError::kNetlink;
    if (std::find(rules.begin(), rules.end(), rule) == rules.end()) rules.push_back(rule);
    return ok();
  }
  Result<void> remove(const FwmarkRule& rule) override {
    std::string text = rule.toString();
    journal_->push_back(text.replace(text.find(" add "), 5, " del "));
    std::erase(rules, rule);
    return ok();
  }
  std::vector<FwmarkRule> rules;
  bool fail_add = false;

 private:
  Journal* journal_;
};

class FakeRouteTable final : public RouteTable {
 public:
  explicit FakeRouteTable(Journal& journal) : journal_(&journal) {}
  Result<std::vector<TableRoute>> list(Family family, uint32_t table) override {
    std::vector<TableRoute> out;
    for (const auto& r : routes)
      if (r.family() == family && r.table == table) out.push_back(r);
    return out;
  }
  Result<void> add(const TableRoute& route) override {
    journal_->push_back(route.toString());
    if (fail_add) return DatapathError::kNetlink;
    if (std::find(routes.begin(), routes.end(), route) == routes.end()) routes.push_back(route);
    return ok();
  }
  Result<void> remove(const TableRoute& route) override {
    std::string text = route.toString();
    journal_->push_back(text.replace(text.find(" add "), 5, " del "));
    std::erase(routes, route);
    return ok();
  }
  std::vector<TableRoute> routes;
  bool fail_add = false;

 private:
  Journal* journal_;
};

// The three seams on one journal, iptables on the nft backend, wired into the Kernel that
// Datapath and the Reconciler are given. Not copyable: the fakes point at its journal.
struct FakeKernel {
  FakeKernel() = default;
  FakeKernel(const FakeKernel&) = delete;
  FakeKernel& operator=(const FakeKernel&) = delete;

  Journal journal;
  FakeCommandRunner runner{journal};
  FakeRuleTable rules{journal};
  FakeRouteTable routes{journal};
  Iptables iptables{runner, IptablesBackend::kNft};
  Kernel kernel{&iptables, &rules, &routes};
};

class FakePortUsage final : public PortUsage {
 public:
  Result<std::set<uint16_t>> portsInUse() override { return in_use; }
  bool canBind(uint16_t port, bool, bool) override {
    ++bind_tests;
    return !unbindable.count(port);
  }
  std::set<uint16_t> in_use;      // as /proc/net shows them
  std::set<uint16_t> unbindable;  // not in /proc/net, but bind() fails (another namespace's, say)
  int bind_tests = 0;
};

}  // namespace portcullis::datapath::testing
