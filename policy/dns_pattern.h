// A DNS `matchPattern` (or TLS server name pattern) translated into what the matchers need,
// with Cilium's semantics (SPEC.md "Policy file"; Cilium pkg/fqdn/matchpattern):
//   - names and patterns are compared lowercased with a trailing dot;
//   - `*` matches zero or more of [-a-zA-Z0-9_] and never crosses a dot;
//   - a leading `**.` matches one or more whole labels;
//   - a pattern made only of stars matches every name.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::policy {

// Lowercases ASCII and appends the trailing dot when missing; "" becomes the root ".".
std::string canonicalDnsName(std::string_view name);
void canonicalDnsName(std::string_view name, std::string& out);

class DnsPattern {
 public:
  // Never fails: the parser rejects characters outside [-a-zA-Z0-9_.*], and any that slip
  // through are matched literally.
  explicit DnsPattern(std::string_view pattern);

  // Canonical pattern text (lowercase, trailing dot).
  const std::string& canonical() const { return canonical_; }
  bool matchesAll() const { return matches_all_; }
  // No star: an exact name, compared as a string.
  bool isExact() const { return !matches_all_ && canonical_.find('*') == std::string::npos; }
  // Whether the canonical name (see canonicalDnsName) matches. Hand-written rather than a
  // per-pattern RE2: one RE2::FullMatch costs ~100-300 ns of fixed overhead, this ~50 ns
  // (measured on 25-character names).
  bool matches(std::string_view canonical_name) const;
  // The same language in RE2 syntax, for matching many patterns at once with RE2::Set: to be
  // anchored at both ends and compiled as Latin-1; empty for exact and match-all patterns.
  const std::string& regex() const { return regex_; }
  // The trailing labels that contain no star ("*.ci*.io." -> "io."; "**.a.b." -> "a.b.";
  // "x*." -> ""): every name the pattern matches ends with them.
  std::string_view literalSuffix() const;

 private:
  std::string canonical_;
  std::string regex_;
  bool matches_all_ = false;
};

}  // namespace portcullis::policy
