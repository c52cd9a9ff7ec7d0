// Many RE2 patterns matched against one text in a single pass, every pattern anchored at
// both ends. Identical patterns share one id, so callers can map an id to all the entries that
// use it.
//
// Patterns that are plain literals (`GET`, `api\.example\.test`, the common case for methods
// and hosts) are looked up in a hash map; a literal followed by `.*` (`/public/.*`, the common
// case for paths) is a prefix comparison. The others go into one RE2::Set, whose Match()
// allocates a match set sized to its pattern count on every call: keeping literals out keeps
// that small (with 5,000 patterns, malloc and free of it were half of a verdict's CPU).
//
// With a separator ('/' for paths), regexes are further bucketed by their literal prefix up to
// its last separator ("/tenants/12/(a|b)" goes to "/tenants/12/"), and a text probes the bucket
// of each of its own prefixes ending in a separator, plus the bucket of regexes without such a
// prefix: thousands of per-tenant or per-version paths then cost a few small sets, not one big.
//
// RE2::Set runs a lazily built DFA with no NFA to fall back on, and its cache is bounded by
// max_mem. A set of thousands of patterns needs a larger budget than RE2's default (measured:
// 10,000 host patterns fail to compile below 64 MiB), so compile() sizes it from the pattern
// count and doubles it on failure up to a limit. Should Match() still fail (ErrorInfo
// kOutOfMemory, or kInconsistent), every regex is also kept as its own RE2 and match() tests
// them one by one: the answer is always right, only slower.
#pragma once

#include <re2/re2.h>
#include <re2/set.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
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
    char separator = 0;  // 0: no prefix buckets
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

  size_t size() const { return size_; }
  size_t literalCount() const { return size_ - regex_count_; }
  size_t bucketCount() const { return buckets_.size(); }
  bool usesSet() const { return max_mem_ > 0; }
  int64_t maxMem() const { return max_mem_; }  // the largest budget a set compiled with
  // How many match() calls had to fall back to one-by-one matching.
  uint64_t fallbacks() const { return fallbacks_->load(std::memory_order_relaxed); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
  struct Regex {
    int id;
    std::unique_ptr<RE2> re;
  };
  // "literal.*" (a path prefix, the common case for paths): a comparison decides for texts of
  // ASCII without line breaks; the RE2 judges the others (UTF-8, case folding beyond ASCII).
  struct Prefix {
    std::string text;  // folded to lowercase when matching ignores case
    int id;
    std::unique_ptr<RE2> re;
  };
  struct Bucket {
    std::vector<Regex> regexes;     // in id order; RE2::Set index = position
    std::unique_ptr<RE2::Set> set;  // null for a few regexes: one by one is as fast
    std::vector<Prefix> prefixes;
  };

  RE2::Options re2Options(int64_t max_mem) const;
  // The text a literal pattern matches, folded to lowercase when matching ignores case; nullopt
  // for anything RE2 would read as more than a literal.
  std::optional<std::string> literal(std::string_view pattern) const;
  // The literal text every match starts with, through its last separator; "" if none.
  std::string bucketKey(std::string_view pattern) const;
  std::string compileBucket(Bucket& bucket);
  // `key` is the text as literals are compared with it (folded when matching ignores case).
  void matchBucket(const Bucket& bucket, std::string_view text, std::string_view key,
                   std::vector<int>& ids) const;

  Options options_;
  size_t size_ = 0;
  StringMap<int> ids_;                    // while building: pattern -> id
  StringMap<std::vector<int>> literals_;  // literal text -> ids
  StringMap<Bucket> buckets_;             // the other patterns, by bucketKey()
  size_t regex_count_ = 0;
  int64_t max_mem_ = 0;
  std::unique_ptr<std::atomic<uint64_t>> fallbacks_;
};

}  // namespace portcullis::policy
