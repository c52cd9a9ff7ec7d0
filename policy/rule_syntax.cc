#include "policy/rule_syntax.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstddef>

namespace portcullis::policy {
namespace {

// iptables comments are limited to 256 bytes and also carry a prefix; Prometheus labels and log
// lines stay readable.
constexpr std::size_t kMaxRuleName = 128;
constexpr std::size_t kMaxInterface = 15;  // IFNAMSIZ - 1
constexpr std::size_t kMaxCgroupPath = 4096;
constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxDnsPattern = 255;

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isLabelChar(char c) { return isAlnum(c) || c == '-' || c == '_'; }

// RFC 9110 5.6.2 tchar.
bool isTokenChar(char c) {
  return isAlnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view withoutTrailingDot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// Calls `label` for each dot-separated label; stops at the first error.
template <class Check>
std::optional<std::string> eachLabel(std::string_view name, Check label) {
  std::size_t index = 0;
  while (true) {
    const std::size_t dot = name.find('.');
    const std::string_view part = name.substr(0, dot);
    if (part.empty()) return "empty label (two dots in a row, or a leading dot)";
    if (auto e = label(part, index)) return e;
    if (dot == std::string_view::npos) return std::nullopt;
    name.remove_prefix(dot + 1);
    ++index;
  }
}

}  // namespace

std::optional<std::string> ruleNameError(std::string_view name) {
  if (name.empty()) return "a rule name must not be empty";
  if (name.size() > kMaxRuleName) return "a rule name has at most 128 characters";
  const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
    return isAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/';
  });
  if (!ok) return "a rule name may contain only letters, digits and - _ . : /";
  return std::nullopt;
}

std::optional<std::string> interfaceError(std::string_view name) {
  std::string_view base = name;
  if (!base.empty() && base.back() == '+') base.remove_suffix(1);
  if (base.empty() && name.size() != 1) return "an interface name must not be empty";
  if (name.size() > kMaxInterface) return "an interface name has at most 15 characters";
  const bool ok = std::all_of(base.begin(), base.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '/' && c != ':' && c != '"' && c != '\'' && c != '!' &&
           c != '+';
  });
  if (!ok) return "an interface name has no spaces, quotes or / : ! and '+' only at its end";
  return std::nullopt;
}

std::optional<std::string> cgroupError(std::string_view path) {
  if (path.empty()) return "a cgroup path must not be empty";
  if (path.size() > kMaxCgroupPath) return "a cgroup path has at most 4096 characters";
  const bool ok = std::all_of(path.begin(), path.end(),
                              [](char c) { return c > ' ' && c < 0x7f && c != '"' && c != '\''; });
  if (!ok) return "a cgroup path has no spaces, quotes or control characters";
  return std::nullopt;
}

std::optional<std::string> dnsNameError(std::string_view name) {
  const std::string_view bare = withoutTrailingDot(name);
  if (bare.empty()) return "a DNS name must not be empty";
  if (bare.size() > kMaxDnsName) return "a DNS name has at most 253 characters";
  return eachLabel(bare, [](std::string_view label, std::size_t) -> std::optional<std::string> {
    if (!std::all_of(label.begin(), label.end(), isLabelChar)) {
      return "a DNS name has labels of letters, digits, '-' and '_' only";
    }
    return std::nullopt;
  });
}

std::optional<std::string> dnsPatternError(std::string_view pattern) {
  if (pattern.size() > kMaxDnsPattern) return "a DNS pattern has at most 255 characters";
  const std::string_view bare = withoutTrailingDot(pattern);
  if (bare.empty()) return "a DNS pattern must not be empty";
  // Stars only: matches every name (SPEC.md, Cilium matchpattern).
  if (bare.find_first_not_of('*') == std::string_view::npos) return std::nullopt;
  return eachLabel(
      bare, [](std::string_view label, std::size_t index) -> std::optional<std::string> {
        const bool chars_ok = std::all_of(label.begin(), label.end(),
                                          [](char c) { return isLabelChar(c) || c == '*'; });
        if (!chars_ok) return "a DNS pattern has only letters, digits and - _ . *";
        if (label.find("**") != std::string_view::npos && (index != 0 || label != "**")) {
          return "'**' is only allowed as a whole first label ('**.example.test')";
        }
        return std::nullopt;
      });
}

std::optional<std::string> serverNameError(std::string_view name) {
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (rest.find('*') != std::string_view::npos) {
    return "a server name is a DNS name, or '*.' followed by one";
  }
  return dnsNameError(rest);
}

std::optional<std::string> headerNameError(std::string_view name) {
  if (name.empty()) return "a header name must not be empty";
  if (!std::all_of(name.begin(), name.end(), isTokenChar)) {
    return "a header name is a token: letters, digits and !#$%&'*+-.^_`|~";
  }
  return std::nullopt;
}

std::optional<std::string> headerEntryError(std::string_view entry, std::string& normalized) {
  const std::size_t colon = entry.find(':');
  const std::string_view name = trim(entry.substr(0, colon));
  if (auto e = headerNameError(name)) return "expected \"Name: value\" or \"Name\": " + *e;
  normalized = std::string(name);
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view value = trim(entry.substr(colon + 1));
  if (value.empty()) return "expected \"Name: value\" or \"Name\": the value after ':' is empty";
  const bool printable = std::all_of(value.begin(), value.end(), [](char c) {
    return c == '\t' || static_cast<unsigned char>(c) >= ' ';
  });
  if (!printable || value.find('\x7f') != std::string_view::npos) {
    return "a header value has no control characters";
  }
  normalized += ": ";
  normalized += value;
  return std::nullopt;
}

std::optional<std::string> regexError(const std::string& pattern, bool ignore_case) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(!ignore_case);
  const RE2 re(pattern, options);
  if (re.ok()) return std::nullopt;
  return re.error();
}

}  // namespace portcullis::policy
