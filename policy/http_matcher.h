// The `http` entries of one direction, compiled so that a verdict's cost does not grow with
// their number (SPEC.md "Policy file"; Cilium's PortRuleHTTP semantics).
//
// Every distinct method, path and host pattern goes into one RegexSet per field. A request
// matches the three sets once; each matching pattern maps to the entries using it, and entries
// with an empty field are in that field's wildcard list. The field whose candidates are fewest is
// walked in policy order, checking the other two fields by pattern id, then the flow's rules,
// then the headers: the first entry passing everything decides.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policy/compiled_policy.h"
#include "policy/diagnostic.h"
#include "policy/model.h"
#include "policy/regex_set.h"

namespace portcullis::policy {

// "example.test:8080" -> "example.test", "[2001:db8::1]:80" -> "2001:db8::1". The proxy passes
// the Host without port already; this is the defensive second look.
std::string_view hostWithoutPort(std::string_view host);

class HttpMatcher {
 public:
  HttpMatcher();
  ~HttpMatcher();
  HttpMatcher(HttpMatcher&&) noexcept;
  HttpMatcher& operator=(HttpMatcher&&) noexcept;

  // Entries must be added in policy order: the first matching one decides.
  void add(uint32_t rule, const HttpRule& entry, std::vector<Diagnostic>& errors);
  // `http: []` (visibility only): an entry that matches every request, at the rule's place.
  void addAllowAll(uint32_t rule);
  void compile(std::vector<Diagnostic>& errors);

  // The rule of the first entry, among those of `rules` (ascending), matching the request;
  // its headerMatches mismatches are appended to edits and mismatches.
  std::optional<uint32_t> decide(std::span<const uint32_t> rules, const HttpRequestView& request,
                                 std::vector<HeaderEdit>& edits,
                                 std::vector<std::string>& mismatches) const;

  size_t entryCount() const { return entries_.size(); }

 private:
  enum Field { kMethod, kPath, kHost, kFieldCount };
  static constexpr int kAnyPattern = -1;

  struct Header {  // "Name: value" or "Name" (value_required false)
    std::string name;
    std::string value;
    bool value_required = false;
  };
  struct Entry {
    uint32_t rule = 0;
    std::array<int, kFieldCount> pattern{kAnyPattern, kAnyPattern, kAnyPattern};
    std::vector<Header> headers;
    std::vector<HeaderMatch> header_matches;
  };
  struct FieldIndex {
    RegexSet patterns;
    std::vector<std::vector<uint32_t>> entries;  // by pattern id, ascending
    std::vector<uint32_t> any;                   // entries with the field empty
    SourceLocation last_added;                   // blamed when the set exceeds its memory
  };

  bool headersMatch(const Entry& entry, const HttpRequestView& request,
                    std::vector<HeaderEdit>& edits, std::vector<std::string>& mismatches) const;

  std::vector<Entry> entries_;
  std::array<FieldIndex, kFieldCount> fields_;
};

}  // namespace portcullis::policy
