#include "datapath/iptables.h"

#include "common/log.h"
#include "datapath/datapath_error.h"
#include "datapath/iptables_state.h"

namespace portcullis::datapath {
namespace {

std::string firstLine(std::string_view text) {
  const auto eol = text.find('\n');
  return std::string(text.substr(0, eol));
}

// Rules that are not ours in the tables a host firewall uses.
size_t foreignRules(CommandRunner& runner, const Iptables& iptables, Family family) {
  auto out = runner.run(iptables.saveArgv(family), {});
  if (!out || out.value().exit_code != 0) return 0;
  size_t count = 0;
  for (const auto& table : IptablesState::parse(out.value().out).tables) {
    if (table.name != "raw" && table.name != "mangle" && table.name != "filter" && table.name != "nat")
      continue;
    for (const auto& rule : table.rules) count += isOurRule(rule) ? 0 : 1;
  }
  return count;
}

}  // namespace

const char* toString(IptablesBackend b) { return b == IptablesBackend::kNft ? "nft" : "legacy"; }

IptablesBackend Iptables::detect(CommandRunner& runner) {
  Iptables nft(runner, IptablesBackend::kNft), legacy(runner, IptablesBackend::kLegacy);
  const size_t in_nft = foreignRules(runner, nft, Family::kV4) + foreignRules(runner, nft, Family::kV6);
  const size_t in_legacy =
      foreignRules(runner, legacy, Family::kV4) + foreignRules(runner, legacy, Family::kV6);
  if (in_nft > 0 && in_legacy == 0) return IptablesBackend::kNft;
  if (in_legacy > 0 && in_nft == 0) return IptablesBackend::kLegacy;
  auto version = runner.run({"iptables", "-V"}, {});
  if (version && version.value().out.find("legacy") != std::string::npos)
    return IptablesBackend::kLegacy;
  return IptablesBackend::kNft;
}

std::string Iptables::binary(Family family, std::string_view tool) const {
  return std::string(family == Family::kV4 ? "iptables-" : "ip6tables-") + toString(backend_) + "-" +
         std::string(tool);
}

std::vector<std::string> Iptables::saveArgv(Family family) const { return {binary(family, "save")}; }

std::vector<std::string> Iptables::restoreArgv(Family family) const {
  // -w: wait for the xtables lock instead of failing when another tool holds it.
  return {binary(family, "restore"), "-w", "--noflush"};
}

Result<std::string> Iptables::save(Family family) {
  const auto argv = saveArgv(family);
  auto out = runner_->run(argv, {});
  if (!out) {
    log::error(argv[0], ": cannot run: ", out.error().message());
    return out.error();
  }
  if (out.value().exit_code != 0) {
    log::error(argv[0], " exited with ", out.value().exit_code, ": ", firstLine(out.value().err));
    return DatapathError::kCommandFailed;
  }
  return std::move(out.value().out);
}

Result<void> Iptables::restore(Family family, std::string_view payload) {
  const auto argv = restoreArgv(family);
  auto out = runner_->run(argv, payload);
  if (!out) {
    log::error(argv[0], ": cannot run: ", out.error().message());
    return out.error();
  }
  if (out.value().exit_code != 0) {
    // iptables-restore names the failing line on its second line of stderr.
    std::string err = out.value().err;
    for (auto& c : err)
      if (c == '\n') c = ' ';
    log::error(argv[0], " exited with ", out.value().exit_code, ": ", err);
    return DatapathError::kCommandFailed;
  }
  return ok();
}

}  // namespace portcullis::datapath
