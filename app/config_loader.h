// Reads the config file and the policy files it names from disk: the one place that does file
// I/O for them. Parsing and validation are policy/parser.h's; compiling is the caller's
// (policy::CompiledPolicy::compile), so a reload can build the new policy off to the side.
#pragma once

#include <string>

#include "policy/diagnostic.h"
#include "policy/model.h"

namespace portcullis::app {

struct LoadedConfig {
  policy::Config config;
  policy::Policy policy;  // every policy file, merged in order
};

// The config file, then its policy files. On failure, every diagnostic of the config file; or,
// when the config itself is valid, every diagnostic of every policy file.
policy::Parsed<LoadedConfig> loadConfig(const std::string& path);

// The config file alone (its policy-files resolved against its folder).
policy::Parsed<policy::Config> readConfig(const std::string& path);

// The policy files of a valid config, re-read from disk (start-up and SIGHUP). Each file is
// parsed even when an earlier one failed, so all errors are reported at once.
policy::Parsed<policy::Policy> loadPolicies(const policy::Config& config);

// A file's whole text; a diagnostic "FILE:1:1: cannot read: <strerror>" when it cannot be read.
policy::Parsed<std::string> readFile(const std::string& path);

}  // namespace portcullis::app
