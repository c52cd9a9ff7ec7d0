#include "policy/dns_pattern.h"

#include <algorithm>

namespace portcullis::policy {
namespace {

// Cilium's allowedDNSCharsREGroup, lowercase only because names are lowercased first.
constexpr std::string_view kLabelChar = "[-a-z0-9_]";
constexpr std::string_view kSubdomainsPrefix = "**.";

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool isPlainLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// `*` matches a run of label characters; any other pattern character matches itself. One
// backtracking point is enough: a star cannot cross a dot, so when the text between two stars
// holds a dot its position is forced, and otherwise the later star absorbs whatever the earlier
// one would have taken (the classic wildcard argument).
bool glob(std::string_view p, std::string_view s) {
  size_t pi = 0;
  size_t si = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      resume = si;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++pi;
      ++si;
    } else if (star != std::string_view::npos && isPlainLabelChar(s[resume])) {
      pi = star + 1;
      si = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

void appendRegex(std::string_view pattern, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : pattern) {
    if (c == '*') {
      out.append(kLabelChar).push_back('*');
    } else if (c == '.') {
      out.append("[.]");
    } else if (isPlainLabelChar(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.append("\\x").push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
}

}  // namespace

void canonicalDnsName(std::string_view name, std::string& out) {
  out.resize(name.size());
  std::transform(name.begin(), name.end(), out.begin(), lowerAscii);
  if (out.empty() || out.back() != '.') out.push_back('.');
}

std::string canonicalDnsName(std::string_view name) {
  std::string out;
  canonicalDnsName(name, out);
  return out;
}

DnsPattern::DnsPattern(std::string_view pattern) {
  canonicalDnsName(pattern, canonical_);
  const std::string_view body(canonical_.data(), canonical_.size() - 1);
  matches_all_ = !body.empty() && body.find_first_not_of('*') == std::string_view::npos;
  if (matches_all_ || isExact()) return;
  std::string_view rest = canonical_;
  if (rest.starts_with(kSubdomainsPrefix)) {
    regex_.append("(?:").append(kLabelChar).append("+[.])+");
    rest.remove_prefix(kSubdomainsPrefix.size());
  }
  appendRegex(rest, regex_);
}

bool DnsPattern::matches(std::string_view name) const {
  if (matches_all_) return true;
  std::string_view p = canonical_;
  if (!p.starts_with(kSubdomainsPrefix)) return glob(p, name);
  p.remove_prefix(kSubdomainsPrefix.size());
  // One or more whole labels, then the rest of the pattern.
  size_t at = 0;
  while (true) {
    const size_t start = at;
    while (at < name.size() && isPlainLabelChar(name[at])) ++at;
    if (at == start || at == name.size() || name[at] != '.') return false;
    ++at;
    if (glob(p, name.substr(at))) return true;
  }
}

std::string_view DnsPattern::literalSuffix() const {
  const auto star = canonical_.rfind('*');
  if (star == std::string::npos) return canonical_;
  // canonical_ ends with a dot, so there is one after the last star.
  return std::string_view(canonical_).substr(canonical_.find('.', star) + 1);
}

}  // namespace portcullis::policy
