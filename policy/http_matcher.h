// The `http` entries of one direction, compiled so that a verdict's cost does not grow with
// their number (SPEC.md "Policy file"; Cilium's PortRuleHTTP semantics).
//
// Every distinct method, path and host pattern goes into one RegexSet per field. A request
// matches the three sets once; each matching pattern maps to the entries using it. Entries are
// grouped by the fields they constrain (8 classes), so an empty field never puts an entry on a
// candidate list: within each class, the constrained field with the fewest candidates is walked,
// checking the class's other fields by pattern id and the flow's rules. The survivors are sorted
// into policy order and the first whose headers pass decides.
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
  // A class is the set of fields an entry constrains, bit f for field f.
  static constexpr int kClassCount = 1 << kFieldCount;

  struct Header {  // "Name: value" or "Name" (value_required false)
    std::string name;
    std::string value;
    bool value_required = false;
  };
  struct Entry {
    uint32_t rule = 0;
    int klass = 0;
    std::array<int, kFieldCount> pattern{kAnyPattern, kAnyPattern, kAnyPattern};
    std::vector<Header> headers;
    std::vector<HeaderMatch> header_matches;
  };
  struct PatternEntries {
    std::vector<uint32_t> ids;  // the entries using the pattern, by class, then ascending
    std::array<uint32_t, kClassCount + 1> begin{};  // class c: ids[begin[c], begin[c + 1])
    size_t count(int klass) const { return begin[klass + 1] - begin[klass]; }
  };
  struct FieldIndex {
    RegexSet patterns;
    std::vector<PatternEntries> entries;  // by pattern id
    SourceLocation last_added;            // blamed when the set exceeds its memory
  };

  using FieldIds = std::array<std::vector<int>, kFieldCount>;  // matching pattern ids by field

  // Appends the entries of class `klass` whose fields match and whose rule is in `rules`.
  void collect(int klass, std::span<const uint32_t> rules, const FieldIds& ids,
               std::vector<uint32_t>& survivors) const;
  bool headersMatch(const Entry& entry, const HttpRequestView& request,
                    std::vector<HeaderEdit>& edits, std::vector<std::string>& mismatches) const;

  std::vector<Entry> entries_;
  std::array<FieldIndex, kFieldCount> fields_;
  std::array<size_t, kClassCount> class_sizes_{};
  std::vector<uint32_t> unconstrained_;  // class 0: every request passes the fields
};

}  // namespace portcullis::policy
