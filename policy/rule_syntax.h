// Validation of the text of single policy fields (names, patterns, headers, regexes). Each
// function returns why the text is invalid, or nullopt when it is valid. Pure; used by the parser.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portcullis::policy {

// Rule names end up in iptables comments, logs and metric labels.
std::optional<std::string> ruleNameError(std::string_view name);
// An iptables -i argument: an interface name, optionally ending in '+' (prefix match).
std::optional<std::string> interfaceError(std::string_view name);
// A cgroup v2 path for iptables -m cgroup --path.
std::optional<std::string> cgroupError(std::string_view path);

// Cilium matchName: labels of [-a-zA-Z0-9_], a trailing dot optional, at most 253 characters.
std::optional<std::string> dnsNameError(std::string_view name);
// Cilium matchPattern: [-a-zA-Z0-9_.*], at most 255 characters, `**.` only as the first label.
std::optional<std::string> dnsPatternError(std::string_view pattern);
// A TLS serverNames entry: a DNS name, or "*." followed by one.
std::optional<std::string> serverNameError(std::string_view name);

// An RFC 9110 field name (a token).
std::optional<std::string> headerNameError(std::string_view name);
// A `headers` entry, "Name: value" or "Name"; on success `normalized` gets "Name: value"/"Name".
std::optional<std::string> headerEntryError(std::string_view entry, std::string& normalized);

// An RE2 pattern; the error is RE2's own text.
std::optional<std::string> regexError(const std::string& pattern, bool ignore_case);

}  // namespace portcullis::policy
