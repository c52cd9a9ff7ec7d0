#include "policy/name_matcher.h"

#include <algorithm>

#include "policy/dns_pattern.h"

namespace portcullis::policy {
namespace {

void sortUnique(std::vector<uint32_t>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

// Per-thread buffers, so a lookup allocates nothing once warm.
struct Scratch {
  std::string name;
  std::vector<int> ids;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

NameMatcher::NameMatcher() = default;
NameMatcher::~NameMatcher() = default;
NameMatcher::NameMatcher(NameMatcher&&) noexcept = default;
NameMatcher& NameMatcher::operator=(NameMatcher&&) noexcept = default;

void NameMatcher::addAll(uint32_t value) { all_.push_back(value); }

void NameMatcher::addName(std::string_view name, uint32_t value) {
  exact_[canonicalDnsName(name)].push_back(value);
}

std::string NameMatcher::addPattern(std::string_view pattern, uint32_t value) {
  const DnsPattern compiled(pattern);
  if (compiled.matchesAll()) {
    addAll(value);
    return {};
  }
  if (compiled.isExact()) {
    exact_[compiled.canonical()].push_back(value);
    return {};
  }
  auto [it, fresh] = buckets_.try_emplace(std::string(compiled.literalSuffix()),
                                          Bucket{RegexSet({.latin1 = true}), {}});
  Bucket& bucket = it->second;
  const RegexSet::Added added = bucket.patterns.add(compiled.regex());
  if (!added.ok()) return "pattern \"" + std::string(pattern) + "\": " + added.error;
  if (static_cast<size_t>(added.id) == bucket.values.size()) bucket.values.emplace_back();
  bucket.values[added.id].push_back(value);
  return {};
}

std::string NameMatcher::compile() {
  sortUnique(all_);
  for (auto& [name, values] : exact_) sortUnique(values);
  for (auto& [suffix, bucket] : buckets_) {
    for (auto& values : bucket.values) sortUnique(values);
    if (std::string error = bucket.patterns.compile(); !error.empty()) {
      return "patterns ending in \"" + suffix + "\": " + error;
    }
  }
  return {};
}

template <class Visit>
void NameMatcher::forEachMatch(std::string_view canonical_name, Visit&& visit) const {
  if (!all_.empty()) visit(std::span<const uint32_t>(all_));
  if (auto it = exact_.find(canonical_name); it != exact_.end()) visit(std::span<const uint32_t>(it->second));
  if (buckets_.empty()) return;
  std::vector<int>& ids = scratch().ids;
  // The name itself, then each suffix after a dot, down to "" (the bucket of patterns with no
  // literal label, like "x*.").
  size_t start = 0;
  while (start <= canonical_name.size()) {
    const std::string_view suffix = canonical_name.substr(start);
    if (auto it = buckets_.find(suffix); it != buckets_.end()) {
      const Bucket& bucket = it->second;
      bucket.patterns.match(canonical_name, ids);
      for (const int id : ids) visit(std::span<const uint32_t>(bucket.values[id]));
    }
    const size_t dot = canonical_name.find('.', start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

std::optional<uint32_t> NameMatcher::firstMatch(std::string_view name,
                                                std::span<const uint32_t> allowed) const {
  if (allowed.empty()) return std::nullopt;
  std::string& canonical = scratch().name;
  canonicalDnsName(name, canonical);
  uint32_t best = UINT32_MAX;
  // Both lists ascend: walk the shorter, binary-search the longer, stop at the first common
  // value, or as soon as nothing smaller than the best so far can come.
  forEachMatch(canonical, [&](std::span<const uint32_t> values) {
    const bool walk_values = values.size() <= allowed.size();
    const std::span<const uint32_t> walk = walk_values ? values : allowed;
    const std::span<const uint32_t> probe = walk_values ? allowed : values;
    for (const uint32_t v : walk) {
      if (v >= best) break;
      if (std::binary_search(probe.begin(), probe.end(), v)) {
        best = v;
        break;
      }
    }
  });
  if (best == UINT32_MAX) return std::nullopt;
  return best;
}

std::vector<uint32_t> NameMatcher::matches(std::string_view name) const {
  std::vector<uint32_t> out;
  forEachMatch(canonicalDnsName(name), [&](std::span<const uint32_t> values) {
    out.insert(out.end(), values.begin(), values.end());
  });
  sortUnique(out);
  return out;
}

}  // namespace portcullis::policy
