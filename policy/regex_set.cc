#include "policy/regex_set.h"

#include <algorithm>

namespace portcullis::policy {
namespace {

// A DFA state of a set lists up to every pattern's position, and RE2::Set::Compile() fails
// unless the budget can cache 20 of the largest. 10,000 realistic host patterns compile at
// 64 MiB and not at 32; this first guess leaves room for the cache to hold many states. It is
// a ceiling, filled only as traffic discovers states.
constexpr int64_t kBaseMaxMem = int64_t{32} << 20;
constexpr int64_t kMaxMemPerPattern = int64_t{8} << 10;

}  // namespace

RegexSet::RegexSet(Options options)
    : options_(options), fallbacks_(std::make_unique<std::atomic<uint64_t>>(0)) {}
RegexSet::~RegexSet() = default;
RegexSet::RegexSet(RegexSet&&) noexcept = default;
RegexSet& RegexSet::operator=(RegexSet&&) noexcept = default;

RE2::Options RegexSet::re2Options(int64_t max_mem) const {
  RE2::Options o;
  o.set_case_sensitive(options_.case_sensitive);
  o.set_encoding(options_.latin1 ? RE2::Options::EncodingLatin1 : RE2::Options::EncodingUTF8);
  // Errors are returned to the caller; RE2 would also print them, and DFA exhaustion at run
  // time would print once per request.
  o.set_log_errors(false);
  if (max_mem > 0) o.set_max_mem(max_mem);
  return o;
}

RegexSet::Added RegexSet::add(std::string_view pattern) {
  const std::string key(pattern);
  if (auto it = ids_.find(key); it != ids_.end()) return {it->second, {}};
  auto single = std::make_unique<RE2>(key, re2Options(0));
  if (!single->ok()) return {-1, single->error()};
  const int id = static_cast<int>(singles_.size());
  singles_.push_back(std::move(single));
  ids_.emplace(key, id);
  return {id, {}};
}

std::string RegexSet::compile() {
  ids_.clear();
  if (singles_.size() < options_.set_threshold) return {};
  int64_t max_mem = options_.max_mem;
  if (max_mem == 0) {
    max_mem = kBaseMaxMem + kMaxMemPerPattern * static_cast<int64_t>(singles_.size());
  }
  max_mem = std::min(max_mem, options_.max_mem_limit);
  while (true) {
    auto set = std::make_unique<RE2::Set>(re2Options(max_mem), RE2::ANCHOR_BOTH);
    for (const auto& single : singles_) {
      std::string error;
      // The same options parsed it already: only memory can make this fail.
      if (set->Add(single->pattern(), &error) < 0) {
        return "pattern \"" + single->pattern() + "\": " + error;
      }
    }
    if (set->Compile()) {
      set_ = std::move(set);
      max_mem_ = max_mem;
      return {};
    }
    if (max_mem >= options_.max_mem_limit) {
      return std::to_string(singles_.size()) + " patterns do not fit the regex memory limit of " +
             std::to_string(options_.max_mem_limit >> 20) + " MiB";
    }
    max_mem = std::min(max_mem * 2, options_.max_mem_limit);
  }
}

void RegexSet::match(std::string_view text, std::vector<int>& ids) const {
  ids.clear();
  if (set_) {
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    if (set_->Match(text, &ids, &info) || info.kind == RE2::Set::kNoError) {
      std::sort(ids.begin(), ids.end());
      return;
    }
    fallbacks_->fetch_add(1, std::memory_order_relaxed);
    ids.clear();
  }
  for (size_t i = 0; i < singles_.size(); ++i) {
    if (RE2::FullMatch(text, *singles_[i])) ids.push_back(static_cast<int>(i));
  }
}

}  // namespace portcullis::policy
