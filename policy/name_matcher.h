// Which values (rule indexes) allow a DNS question name or a TLS server name.
//
// One hash table is keyed by exact names and by the literal suffixes of patterns (the trailing
// labels without a star, see DnsPattern::literalSuffix). A lookup probes it once per label
// suffix of the name; a hit yields the exact name's values (for the whole name) and the bucket
// of patterns sharing that suffix, matched one by one with DnsPattern::matches, or with one
// RE2::Set when the bucket is large. So the cost follows the name's length and the few patterns
// sharing its suffixes, not the number of patterns. (One RE2::Set over all patterns would hold
// DFA states listing thousands of `*.`-led patterns and churn its cache on varied names.)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/dns_pattern.h"
#include "policy/regex_set.h"

namespace portcullis::policy {

class NameMatcher {
 public:
  NameMatcher();
  ~NameMatcher();
  NameMatcher(NameMatcher&&) noexcept;
  NameMatcher& operator=(NameMatcher&&) noexcept;

  // Build, in any order of values. An empty L7 list allows every name.
  void addAll(uint32_t value);
  void addName(std::string_view name, uint32_t value);
  // A DNS matchPattern or TLS server name; a pattern without a star is an exact name.
  void addPattern(std::string_view pattern, uint32_t value);
  // Returns an error message (resource limits); empty on success. Call once, before lookups.
  std::string compile();

  // The smallest value in `allowed` (ascending) whose names or patterns match `name`.
  std::optional<uint32_t> firstMatch(std::string_view name,
                                     std::span<const uint32_t> allowed) const;
  // Every value matching `name`, ascending: for tests and diagnostics.
  std::vector<uint32_t> matches(std::string_view name) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  struct Bucket {
    std::vector<uint32_t> exact;                // values of the name equal to the key
    std::vector<DnsPattern> patterns;           // distinct patterns whose literal suffix is the key
    std::vector<std::vector<uint32_t>> values;  // by pattern index
    std::unique_ptr<RegexSet> set;              // the patterns, when there are many
  };

  // Calls visit(std::span<const uint32_t>) with the values of every name or pattern matching
  // the canonical name.
  template <class Visit>
  void forEachMatch(std::string_view canonical_name, Visit&& visit) const;

  std::vector<uint32_t> all_;
  StringMap<Bucket> table_;
  // While building: where each distinct pattern went (bucket, index), to merge duplicates.
  StringMap<std::pair<Bucket*, size_t>> pattern_places_;
};

}  // namespace portcullis::policy
