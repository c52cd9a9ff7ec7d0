// Many RE2 patterns matched against one text in a single pass (RE2::Set), every pattern
// anchored at both ends. Identical patterns share one id, so callers can map an id to all the
// entries that use it.
//
// RE2::Set runs a lazily built DFA with no NFA to fall back on, and its cache is bounded by
// max_mem. A set of thousands of patterns needs a larger budget than RE2's default (measured:
// 10,000 host patterns fail to compile below 64 MiB), so compile() sizes it from the pattern
// count and doubles it on failure up to a limit. Should Match() still fail (ErrorInfo
// kOutOfMemory, or kInconsistent), every pattern is also kept as its own RE2 and match() tests
// them one by one: the answer is always right, only slower.
#pragma once

#include <re2/re2.h>
#include <re2/set.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace portcullis::policy {

class RegexSet {
 public:
  struct Options {
    bool case_sensitive = true;
    bool latin1 = false;  // bytes, not UTF-8: DNS names are not text
    int64_t max_mem = 0;  // first budget tried; 0: sized from the pattern count
    int64_t max_mem_limit = int64_t{1} << 30;  // compile() gives up above this
    // Fewer patterns are matched one by one: a lone pattern needs no set, and RE2::Set::Match
    // allocates a match set sized to the pattern count on every call.
    size_t set_threshold = 2;
  };
  struct Added {
    int id = -1;
    std::string error;  // RE2's message when the pattern does not parse
    bool ok() const { return error.empty(); }
  };

  explicit RegexSet(Options options);
  ~RegexSet();
  RegexSet(RegexSet&&) noexcept;
  RegexSet& operator=(RegexSet&&) noexcept;

  // Not after compile().
  Added add(std::string_view pattern);
  // Returns an error message when the patterns do not fit max_mem_limit; empty on success.
  std::string compile();

  // Sets `ids` to the ids of the patterns matching the whole text, ascending.
  void match(std::string_view text, std::vector<int>& ids) const;

  size_t size() const { return singles_.size(); }
  bool usesSet() const { return set_ != nullptr; }
  int64_t maxMem() const { return max_mem_; }  // the budget the set compiled with
  const std::string& pattern(int id) const { return singles_[id]->pattern(); }
  // How many match() calls had to fall back to one-by-one matching.
  uint64_t fallbacks() const { return fallbacks_->load(std::memory_order_relaxed); }

 private:
  RE2::Options re2Options(int64_t max_mem) const;

  Options options_;
  std::unordered_map<std::string, int> ids_;
  std::vector<std::unique_ptr<RE2>> singles_;
  std::unique_ptr<RE2::Set> set_;  // null for a few patterns: one by one is as fast
  int64_t max_mem_ = 0;
  std::unique_ptr<std::atomic<uint64_t>> fallbacks_;
};

}  // namespace portcullis::policy
