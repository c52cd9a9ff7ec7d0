// The only code that knows the YAML syntax of SPEC.md's config and policy files.
// Pure: takes the text, never opens files (the daemon reads them), collects all errors in one pass.
#pragma once

#include <string_view>

#include "policy/diagnostic.h"
#include "policy/model.h"

namespace portcullis::policy {

// `file` names the text in diagnostics. Relative policy-files are resolved against the
// directory of `file`.
Parsed<Config> parseConfig(std::string_view text, std::string_view file);

// One policy file. Rule names must be unique across files: see mergePolicies().
Parsed<Policy> parsePolicy(std::string_view text, std::string_view file);

// Concatenates policies in order; reports duplicate rule names and port/protocol conflicts
// (one (direction, port, protocol) may feed only one listener kind) across all of them.
Parsed<Policy> mergePolicies(std::vector<Policy> policies);

}  // namespace portcullis::policy
