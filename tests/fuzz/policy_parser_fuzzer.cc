// fuzz-links: portcullis_policy
// The policy and config parsers, fed arbitrary bytes: they must never crash, leak or hang, and
// their answers must keep the Parsed contract. A policy they accept is also compiled, since
// `check` and the daemon do exactly that with it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "policy/compiled_policy.h"
#include "policy/parser.h"

using namespace portcullis::policy;

namespace {

template <class T>
void checkContract(const Parsed<T>& p, std::string_view file) {
  // A value exactly when there are no errors; every error placed in the named file.
  if (p.value.has_value() != p.errors.empty()) std::abort();
  for (const Diagnostic& d : p.errors) {
    if (d.where.file != file || d.where.line < 1 || d.where.column < 1) std::abort();
    if (d.message.empty() || d.message.find('\n') != std::string::npos) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const Parsed<Policy> policy = parsePolicy(text, "p.yaml");
  checkContract(policy, "p.yaml");
  if (policy.ok()) {
    // The same policy twice: every named rule is now a duplicate.
    const auto merged = mergePolicies({*policy.value, *policy.value});
    if (merged.ok() != policy.value->rules.empty()) std::abort();
    const auto compiled = CompiledPolicy::compile(*policy.value);
    if (compiled.value.has_value() != compiled.errors.empty()) std::abort();
  }

  const Parsed<Config> config = parseConfig(text, "dir/c.yaml");
  checkContract(config, "dir/c.yaml");
  if (config.ok()) {
    const Config& c = *config.value;
    if (c.policy_files.empty() || c.proxy.port_range_last - c.proxy.port_range_first < 4) {
      std::abort();
    }
  }
  return 0;
}
