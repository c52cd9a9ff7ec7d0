#include "datapath/reconciler.h"

#include <algorithm>

#include "common/log.h"

namespace portcullis::datapath {
namespace {

const char* name(Family f) { return f == Family::kV4 ? "IPv4" : "IPv6"; }

}  // namespace

InstalledForm InstalledForm::readBack(const IptablesState& saved) {
  InstalledForm form;
  for (const auto& c : kOurChains) {
    auto& lines = form.chains[std::string(c.name)];
    form.jumps[std::string(c.name)] = jumpSpec(c);
    const IptablesTable* table = saved.table(c.table);
    if (table == nullptr) continue;
    for (const auto& rule : table->rules) {
      if (rule.chain == c.name) lines.push_back(rule.line());
      if (rule.chain == c.builtin && jumpTarget(rule.spec) == std::string(c.name) &&
          hasOurComment(rule.spec)) {
        form.jumps[std::string(c.name)] = rule.spec;
      }
    }
  }
  return form;
}

std::optional<InstalledForm> InstalledForm::inDump(const InstalledForm& read_back,
                                                   const IptablesState& saved,
                                                   const IptablesState& dumped) {
  InstalledForm form;
  for (const auto& c : kOurChains) {
    const std::string chain(c.name);
    const IptablesTable* text = saved.table(c.table);
    const IptablesTable* dump = dumped.table(c.table);
    if (text == nullptr || dump == nullptr) return std::nullopt;
    const auto dumped_rules = dump->rulesOf(chain);
    if (text->rulesOf(chain).size() != dumped_rules.size()) return std::nullopt;
    auto& lines = form.chains[chain];
    for (const auto& rule : dumped_rules) lines.push_back(rule.line());
    const auto text_builtin = text->rulesOf(c.builtin);
    const auto dump_builtin = dump->rulesOf(c.builtin);
    if (text_builtin.size() != dump_builtin.size()) return std::nullopt;
    const auto jump =
        std::find_if(text_builtin.begin(), text_builtin.end(),
                     [&](const IptablesRule& r) { return r.spec == read_back.jumps.at(chain); });
    if (jump == text_builtin.end()) return std::nullopt;
    form.jumps[chain] = dump_builtin[static_cast<size_t>(jump - text_builtin.begin())].spec;
  }
  return form;
}

IptablesRepair decideRepair(const InstalledForm& desired, const IptablesState& actual) {
  IptablesRepair repair;
  for (const auto& c : kOurChains) {
    const std::string chain(c.name);
    const IptablesTable* table = actual.table(c.table);
    std::vector<std::string> lines;
    size_t jumps = 0;
    const std::string& jump = desired.jumps.at(chain);
    if (table != nullptr) {
      for (const auto& rule : table->rules) {
        if (rule.chain == chain) lines.push_back(rule.line());
        if (rule.chain == c.builtin && rule.spec == jump) ++jumps;
      }
    }
    const auto& want = desired.chains.at(chain);
    if (table == nullptr || !table->hasChain(chain)) {
      repair.findings.push_back("chain " + chain + " missing: recreated");
      repair.edits.refill.push_back(c.name);
    } else if (lines != want) {
      repair.findings.push_back("chain " + chain + " has " + std::to_string(lines.size()) +
                                " rules, " + std::to_string(want.size()) +
                                " expected or changed: refilled");
      repair.edits.refill.push_back(c.name);
    }
    if (jumps == 0) {
      repair.findings.push_back("jump " + std::string(c.builtin) + " -> " + chain +
                                " missing: re-added");
      repair.edits.add_jumps.push_back(c.name);
    }
    for (size_t extra = 1; extra < jumps; ++extra) {
      repair.findings.push_back("duplicate jump " + std::string(c.builtin) + " -> " + chain +
                                ": removed");
      repair.edits.deletes.push_back(
          {std::string(c.table), IptablesRule{std::string(c.builtin), jump}});
    }
  }
  return repair;
}

Result<void> Reconciler::learn(DatapathPlan plan) {
  plan_ = std::move(plan);
  return learn();
}

Result<void> Reconciler::learn() {
  installed_.clear();
  dumped_.clear();
  // Read before the saves: a change racing with them moves it again and forces a comparison.
  compared_generation_ = generation_ ? generation_->current() : std::nullopt;
  for (Family f : {Family::kV4, Family::kV6}) {
    if (f == Family::kV6 && !plan_.ipv6) continue;
    std::optional<IptablesState> before;
    if (dump_ != nullptr) {
      if (auto read = dump_->read(f)) before = std::move(read.value());
    }
    PC_TRY(saved_text, kernel_.iptables->save(f));
    const IptablesState saved = IptablesState::parse(saved_text);
    InstalledForm form = InstalledForm::readBack(saved);
    // Sanity: the kernel holds exactly the rules we rendered, just spelled its way.
    for (const auto& content : renderChains(plan_, f)) {
      const auto& read = form.chains[std::string(content.chain.name)];
      if (read.size() != content.rules.size())
        log::warn(name(f), " ", content.chain.name, ": read back ", read.size(),
                  " rules, rendered ", content.rules.size());
    }
    installed_[f] = std::move(form);
    if (before) learnDump(f, saved, *before);
    if (dump_ != nullptr && !dumped_.contains(f))
      log::info(name(f), ": nf_tables dump unavailable, reconcile compares iptables-save output");
  }
  return ok();
}

void Reconciler::learnDump(Family family, const IptablesState& saved, const IptablesState& before) {
  dumped_.erase(family);
  // Equal dumps before and after the save: the save saw the same rules, position by position.
  auto after = dump_->read(family);
  if (!after || after.value() != before) return;
  if (auto form = InstalledForm::inDump(installed_.at(family), saved, before))
    dumped_[family] = std::move(*form);
}

Result<size_t> Reconciler::check() {
  size_t made = 0;
  const std::optional<uint32_t> now = generation_ ? generation_->current() : std::nullopt;
  if (!now || now != compared_generation_) {
    compared_generation_.reset();
    for (const auto& [family, form] : installed_) {
      PC_TRY(n, checkIptables(family));
      made += n;
    }
    // Our own repair moved the generation: the next check compares again.
    if (made == 0) compared_generation_ = now;
  }
  PC_TRY(n, checkRouting());
  made += n;
  repairs_.fetch_add(made, std::memory_order_relaxed);
  return made;
}

Result<size_t> Reconciler::checkIptables(Family family) {
  std::optional<IptablesState> dumped;
  const auto learned = dumped_.find(family);
  if (dump_ != nullptr) {
    if (auto read = dump_->read(family)) {
      if (learned != dumped_.end() && !decideRepair(learned->second, read.value()).needed())
        return size_t{0};
      dumped = std::move(read.value());
    }
  }
  // Drift, or no dump to tell: iptables-save decides, in the terms a repair is written in.
  PC_TRY(saved_text, kernel_.iptables->save(family));
  const IptablesState saved = IptablesState::parse(saved_text);
  const IptablesRepair repair = decideRepair(installed_.at(family), saved);
  if (!repair.needed()) {
    // The dump differs while the text does not (an attribute iptables-save does not print), or
    // none was learned yet: learn it now rather than run iptables-save at every check.
    if (dumped) {
      if (learned != dumped_.end())
        log::info(name(family), ": nf_tables dump changed without drift; learned again");
      learnDump(family, saved, *dumped);
    }
    return size_t{0};
  }
  PC_TRY(kernel_.iptables->restore(family, renderEdits(plan_, family, repair.edits)));
  for (const auto& finding : repair.findings) log::warn("repaired ", name(family), " ", finding);
  return repair.findings.size();
}

Result<size_t> Reconciler::checkRouting() {
  size_t made = 0;
  const auto want_rules = desiredRules(plan_);
  const auto want_routes = desiredRoutes(plan_);
  for (Family f : {Family::kV4, Family::kV6}) {
    if (f == Family::kV6 && !plan_.ipv6) continue;
    PC_TRY(rules, kernel_.rules->list(f));
    for (const auto& want : want_rules) {
      if (want.family != f || std::find(rules.begin(), rules.end(), want) != rules.end()) continue;
      PC_TRY(kernel_.rules->add(want));
      log::warn("repaired ", name(f), " rule missing: re-added ", want.toString());
      ++made;
    }
    PC_TRY(routes, kernel_.routes->list(f, plan_.route_table));
    for (const auto& want : want_routes) {
      if (want.family() != f || std::find(routes.begin(), routes.end(), want) != routes.end())
        continue;
      PC_TRY(kernel_.routes->add(want));
      log::warn("repaired ", name(f), " route missing: re-added ", want.toString());
      ++made;
    }
  }
  return made;
}

}  // namespace portcullis::datapath
