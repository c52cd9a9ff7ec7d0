#include "policy/http_matcher.h"

#include <algorithm>

namespace portcullis::policy {
namespace {

constexpr const char* kFieldNames[] = {"method", "path", "host"};

// Field values exclude leading and trailing whitespace (RFC 9110 5.5).
std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Header names are case-insensitive (RFC 9110 5.1).
bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lowerAscii(x) == lowerAscii(y);
         });
}

// Whether a header of that name has that value (`value` nullptr: any value); with repeated
// headers, one is enough.
bool hasHeader(std::span<const HeaderView> headers, std::string_view name,
               const std::string* value) {
  return std::any_of(headers.begin(), headers.end(), [&](const HeaderView& h) {
    return sameName(h.name, name) && (value == nullptr || trimOws(h.value) == *value);
  });
}

// Per-thread buffers, so a verdict allocates nothing once warm (RE2::Set::Match itself still
// allocates its match set per call).
struct Scratch {
  std::array<std::vector<int>, 3> ids;  // matching pattern ids by field, ascending
  std::vector<uint32_t> survivors;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

std::string_view hostWithoutPort(std::string_view host) {
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  const auto colon = host.rfind(':');
  // Two colons or more: an IPv6 literal without brackets, which has no port to strip.
  if (colon == std::string_view::npos || host.find(':') != colon) return host;
  const std::string_view port = host.substr(colon + 1);
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return host;
  }
  return host.substr(0, colon);
}

HttpMatcher::HttpMatcher()
    // Paths are bucketed by their literal directory prefix; methods are few, and hosts are
    // mostly literals.
    : fields_{FieldIndex{RegexSet({.case_sensitive = true}), {}, {}},
              FieldIndex{RegexSet({.case_sensitive = true, .separator = '/'}), {}, {}},
              FieldIndex{RegexSet({.case_sensitive = false}), {}, {}}} {}
HttpMatcher::~HttpMatcher() = default;
HttpMatcher::HttpMatcher(HttpMatcher&&) noexcept = default;
HttpMatcher& HttpMatcher::operator=(HttpMatcher&&) noexcept = default;

void HttpMatcher::add(uint32_t rule, const HttpRule& entry, std::vector<Diagnostic>& errors) {
  const auto id = static_cast<uint32_t>(entries_.size());
  Entry e;
  e.rule = rule;
  const std::array<const std::string*, kFieldCount> text = {&entry.method, &entry.path,
                                                            &entry.host};
  for (int f = 0; f < kFieldCount; ++f) {
    if (text[f]->empty()) continue;
    const RegexSet::Added added = fields_[f].patterns.add(*text[f]);
    if (!added.ok()) {
      errors.push_back({entry.where, std::string("invalid http ") + kFieldNames[f] + " regex \"" +
                                         *text[f] + "\": " + added.error});
      return;
    }
    e.pattern[f] = added.id;
    e.klass |= 1 << f;
  }
  for (int f = 0; f < kFieldCount; ++f) {
    if (e.pattern[f] == kAnyPattern) continue;
    FieldIndex& index = fields_[f];
    // An entry that failed to parse may have left a pattern without entries behind it.
    if (static_cast<size_t>(e.pattern[f]) >= index.entries.size()) {
      index.entries.resize(e.pattern[f] + 1);
      index.last_added = entry.where;
    }
    index.entries[e.pattern[f]].ids.push_back(id);
  }
  if (e.klass == 0) unconstrained_.push_back(id);
  ++class_sizes_[e.klass];
  for (const std::string& h : entry.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos) {
      e.headers.push_back({std::string(trimOws(h)), {}, false});
    } else {
      const std::string_view line(h);
      e.headers.push_back({std::string(trimOws(line.substr(0, colon))),
                           std::string(trimOws(line.substr(colon + 1))), true});
    }
  }
  e.header_matches = entry.header_matches;
  entries_.push_back(std::move(e));
}

void HttpMatcher::addAllowAll(uint32_t rule) {
  unconstrained_.push_back(static_cast<uint32_t>(entries_.size()));
  ++class_sizes_[0];
  entries_.push_back(Entry{.rule = rule});
}

void HttpMatcher::compile(std::vector<Diagnostic>& errors) {
  for (int f = 0; f < kFieldCount; ++f) {
    FieldIndex& index = fields_[f];
    if (std::string error = index.patterns.compile(); !error.empty()) {
      errors.push_back({index.last_added, std::string("http ") + kFieldNames[f] + ": " + error});
    }
    for (PatternEntries& pe : index.entries) {
      // Ids were added ascending; a stable sort by class keeps them ascending within a class.
      std::stable_sort(pe.ids.begin(), pe.ids.end(), [&](uint32_t a, uint32_t b) {
        return entries_[a].klass < entries_[b].klass;
      });
      size_t at = 0;
      for (int c = 0; c <= kClassCount; ++c) {
        while (at < pe.ids.size() && entries_[pe.ids[at]].klass < c) ++at;
        pe.begin[c] = static_cast<uint32_t>(at);
      }
      pe.ids.shrink_to_fit();
    }
  }
}

bool HttpMatcher::headersMatch(const Entry& entry, const HttpRequestView& request,
                               std::vector<HeaderEdit>& edits,
                               std::vector<std::string>& mismatches) const {
  for (const Header& h : entry.headers) {
    if (!hasHeader(request.headers, h.name, h.value_required ? &h.value : nullptr)) return false;
  }
  const size_t edits_before = edits.size();
  const size_t mismatches_before = mismatches.size();
  for (const HeaderMatch& m : entry.header_matches) {
    if (hasHeader(request.headers, m.name, m.value.empty() ? nullptr : &m.value)) continue;
    // Cilium's HeaderMatch.mismatch: without an action a mismatch fails the entry; with one
    // the entry still matches and the proxy logs and/or edits the header.
    switch (m.mismatch) {
      case MismatchAction::kDeny:
        edits.resize(edits_before);
        mismatches.resize(mismatches_before);
        return false;
      case MismatchAction::kLog:
        break;
      case MismatchAction::kAdd:
        edits.push_back({HeaderEdit::Op::kAdd, m.name, m.value});
        break;
      case MismatchAction::kDelete:
        edits.push_back({HeaderEdit::Op::kDelete, m.name, {}});
        break;
      case MismatchAction::kReplace:
        edits.push_back({HeaderEdit::Op::kReplace, m.name, m.value});
        break;
    }
    mismatches.push_back(m.name);
  }
  return true;
}

void HttpMatcher::collect(int klass, std::span<const uint32_t> rules, const FieldIds& ids,
                          std::vector<uint32_t>& survivors) const {
  int walk = -1;
  size_t fewest = SIZE_MAX;
  for (int f = 0; f < kFieldCount && fewest > 0; ++f) {
    if ((klass & (1 << f)) == 0) continue;
    size_t count = 0;
    for (const int id : ids[f]) count += fields_[f].entries[id].count(klass);
    if (count < fewest) {
      fewest = count;
      walk = f;
    }
  }
  if (fewest == 0) return;  // a constrained field that nothing of this class matches
  for (const int id : ids[walk]) {
    const PatternEntries& pe = fields_[walk].entries[id];
    for (uint32_t i = pe.begin[klass]; i < pe.begin[klass + 1]; ++i) {
      const Entry& entry = entries_[pe.ids[i]];
      bool fields_match = true;
      for (int f = 0; f < kFieldCount && fields_match; ++f) {
        fields_match = f == walk || entry.pattern[f] == kAnyPattern ||
                       std::binary_search(ids[f].begin(), ids[f].end(), entry.pattern[f]);
      }
      if (fields_match && std::binary_search(rules.begin(), rules.end(), entry.rule)) {
        survivors.push_back(pe.ids[i]);
      }
    }
  }
}

std::optional<uint32_t> HttpMatcher::decide(std::span<const uint32_t> rules,
                                            const HttpRequestView& request,
                                            std::vector<HeaderEdit>& edits,
                                            std::vector<std::string>& mismatches) const {
  if (rules.empty() || entries_.empty()) return std::nullopt;
  Scratch& s = scratch();
  const std::array<std::string_view, kFieldCount> text = {request.method, request.target,
                                                          hostWithoutPort(request.host)};
  for (int f = 0; f < kFieldCount; ++f) fields_[f].patterns.match(text[f], s.ids[f]);

  // Entries passing the fields and the flow's rules. An entry is in one class and on one
  // pattern's list per field, so no entry is collected twice.
  s.survivors.clear();
  for (const uint32_t id : unconstrained_) {
    if (std::binary_search(rules.begin(), rules.end(), entries_[id].rule))
      s.survivors.push_back(id);
  }
  for (int c = 1; c < kClassCount; ++c) {
    if (class_sizes_[c] > 0) collect(c, rules, s.ids, s.survivors);
  }
  std::sort(s.survivors.begin(), s.survivors.end());
  for (const uint32_t id : s.survivors) {
    const Entry& entry = entries_[id];
    if (headersMatch(entry, request, edits, mismatches)) return entry.rule;
  }
  return std::nullopt;
}

}  // namespace portcullis::policy
