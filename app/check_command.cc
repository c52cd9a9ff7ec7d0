// `portcullis check --config FILE` (SPEC.md "Command line"): loads and compiles the config and
// its policy exactly as `run` would, prints every error as FILE:LINE:COLUMN: reason, and installs
// nothing.
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "app/commands.h"
#include "app/config_loader.h"
#include "policy/compiled_policy.h"
#include "proxy/tls_interception.h"

namespace portcullis::app {
namespace {

constexpr const char* kCheckUsage = "usage: portcullis check --config FILE";

int usageError(const std::string& why) {
  std::fprintf(stderr, "portcullis check: %s; %s\n", why.c_str(), kCheckUsage);
  return kExitBadConfig;
}

int printErrors(const std::vector<policy::Diagnostic>& errors) {
  for (const auto& d : errors) std::fprintf(stderr, "%s\n", d.toString().c_str());
  return kExitBadConfig;
}

// "egress: 2 http, 1 dns; ingress: none"
std::string describeRules(const policy::Policy& p) {
  std::string out;
  for (auto direction : {policy::Direction::kEgress, policy::Direction::kIngress}) {
    std::map<policy::L7Protocol, int> counts;
    for (const auto& r : p.rules) {
      if (r.direction == direction) ++counts[r.l7];
    }
    out += out.empty() ? "" : "; ";
    out += policy::toString(direction);
    out += ":";
    if (counts.empty()) out += " none";
    bool first = true;
    for (const auto& [l7, n] : counts) {
      out += (first ? " " : ", ") + std::to_string(n) + " " + policy::toString(l7);
      first = false;
    }
  }
  return out;
}

}  // namespace

int checkCommand(Args args) {
  std::string config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--config" && i + 1 < args.size()) {
      config_path = std::string(args[++i]);
    } else if (a.starts_with("--config=")) {
      config_path = std::string(a.substr(9));
    } else if (a == "--config") {
      return usageError("--config needs a FILE");
    } else {
      return usageError("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (config_path.empty()) return usageError("missing --config FILE");

  auto loaded = loadConfig(config_path);
  if (!loaded.ok()) return printErrors(loaded.errors);
  const LoadedConfig& l = *loaded.value;
  auto compiled = policy::CompiledPolicy::compile(l.policy);
  if (!compiled.ok()) return printErrors(compiled.errors);
  // terminatingTLS files as `run` loads them: unreadable, too open (mode wider than 0600),
  // mismatched or not a CA.
  if (auto tls = proxy::TlsInterceptionSet::load(*compiled.value, nullptr); !tls) {
    for (const auto& e : tls.error().errors) std::fprintf(stderr, "%s\n", e.message().c_str());
    return kExitBadConfig;
  }

  const std::size_t files = l.config.policy_files.size();
  std::printf("%s: OK, %zu rule%s in %zu policy file%s (%s)\n", config_path.c_str(),
              l.policy.rules.size(), l.policy.rules.size() == 1 ? "" : "s", files,
              files == 1 ? "" : "s", describeRules(l.policy).c_str());
  return kExitOk;
}

}  // namespace portcullis::app
