// Checks that concern several rules at once, within one policy file and across merged files.
#pragma once

#include <span>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/model.h"

namespace portcullis::policy {

// Reports, at the later rule: a rule name used twice, and a (direction, port, protocol) that two
// rules send to different listener kinds (ANY counts as TCP and UDP). Rules with an empty name are
// left out of the name check, rules without ports out of the port check.
void checkRuleSet(std::span<const Rule* const> rules, std::vector<Diagnostic>& errors);

}  // namespace portcullis::policy
