#include "policy/regex_set.h"

#include <algorithm>
#include <cctype>

namespace portcullis::policy {
namespace {

// A DFA state of a set lists up to every pattern's position, and RE2::Set::Compile() fails
// unless the budget can cache 20 of the largest. 10,000 realistic host patterns compile at
// 64 MiB and not at 32; this first guess leaves room for the cache to hold many states. It is
// a ceiling, filled only as traffic discovers states.
constexpr int64_t kBaseMaxMem = int64_t{32} << 20;
constexpr int64_t kMaxMemPerPattern = int64_t{8} << 10;

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The character pattern[i] stands for when it is a plain literal (a non-meta ASCII character,
// or an escaped punctuation character, consuming the backslash); nullopt otherwise.
std::optional<char> literalAt(std::string_view pattern, size_t& i) {
  static constexpr std::string_view kMeta = "\\.+*?()|[]{}^$";
  char c = pattern[i];
  if (c == '\\') {
    // Only an escaped punctuation character is itself; \d, \x41, \Q... are more.
    if (i + 1 == pattern.size() || !std::ispunct(static_cast<unsigned char>(pattern[i + 1]))) {
      return std::nullopt;
    }
    c = pattern[++i];
  } else if (kMeta.find(c) != std::string_view::npos) {
    return std::nullopt;
  }
  // Beyond ASCII, RE2 validates UTF-8 and folds case: leave those patterns to it.
  if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
  return c;
}

// Whether `|` splits the whole pattern ("a/x|b/y"), so it has no common prefix. Errs towards
// yes: \Q...\E quoting, which this scanner does not follow, counts as yes.
bool hasTopLevelAlternation(std::string_view pattern) {
  if (pattern.find("\\Q") != std::string_view::npos) return true;
  int depth = 0;
  bool in_class = false;
  size_t class_first = 0;  // where the members of the open class start
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      // "[]...]" and "[^]...]": a ']' first in the class is a member, not the end.
      if (c == ']' && i != class_first) in_class = false;
      // "[[:alpha:]]": the POSIX class's ']' does not end the bracket.
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        const auto end = pattern.find(":]", i + 2);
        if (end != std::string_view::npos) i = end + 1;
      }
    } else if (c == '[') {
      in_class = true;
      class_first = i + 1 < pattern.size() && pattern[i + 1] == '^' ? i + 2 : i + 1;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return true;
    }
  }
  return false;
}

// Per-thread buffers, so matching allocates nothing once warm (but inside RE2::Set::Match).
struct Scratch {
  std::vector<int> indexes;
  std::string folded;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// A policy has few distinct literals and buckets per field (often one or two): comparing each
// key, most of which differ in length, costs fewer instructions than hashing the text.
template <class Map>
typename Map::const_iterator findKey(const Map& map, std::string_view key) {
  constexpr size_t kScanBelow = 8;
  if (map.size() >= kScanBelow) return map.find(key);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first == key) return it;
  }
  return map.end();
}

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

std::optional<std::string> RegexSet::literal(std::string_view pattern) const {
  std::string out;
  out.reserve(pattern.size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    const auto c = literalAt(pattern, i);
    if (!c) return std::nullopt;
    out.push_back(options_.case_sensitive ? *c : lowerAscii(*c));
  }
  return out;
}

std::string RegexSet::bucketKey(std::string_view pattern) const {
  if (options_.separator == 0 || hasTopLevelAlternation(pattern)) return {};
  std::string prefix;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const auto c = literalAt(pattern, i);
    if (!c) break;
    // A quantified character is optional or repeated: the prefix ends before (or with) it.
    const char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
    if (next == '*' || next == '?' || next == '{') break;
    prefix.push_back(options_.case_sensitive ? *c : lowerAscii(*c));
    if (next == '+') break;
  }
  const auto last = prefix.rfind(options_.separator);
  prefix.resize(last == std::string::npos ? 0 : last + 1);
  return prefix;
}

RegexSet::Added RegexSet::add(std::string_view pattern) {
  if (auto it = ids_.find(pattern); it != ids_.end()) return {it->second, {}};
  const int id = static_cast<int>(size_);
  if (auto text = literal(pattern)) {
    literals_[*text].push_back(id);
  } else if (auto prefix = pattern.ends_with(".*") ? literal(pattern.substr(0, pattern.size() - 2))
                                                   : std::nullopt) {
    auto re = std::make_unique<RE2>(std::string(pattern), re2Options(0));
    if (!re->ok()) return {-1, re->error()};
    buckets_[bucketKey(pattern)].prefixes.push_back({std::move(*prefix), id, std::move(re)});
    ++regex_count_;
  } else {
    auto re = std::make_unique<RE2>(std::string(pattern), re2Options(0));
    if (!re->ok()) return {-1, re->error()};
    buckets_[bucketKey(pattern)].regexes.push_back({id, std::move(re)});
    ++regex_count_;
  }
  ++size_;
  ids_.emplace(std::string(pattern), id);
  return {id, {}};
}

std::string RegexSet::compileBucket(Bucket& bucket) {
  if (bucket.regexes.size() < options_.set_threshold) return {};
  int64_t max_mem = options_.max_mem;
  if (max_mem == 0) {
    max_mem = kBaseMaxMem + kMaxMemPerPattern * static_cast<int64_t>(bucket.regexes.size());
  }
  max_mem = std::min(max_mem, options_.max_mem_limit);
  while (true) {
    auto set = std::make_unique<RE2::Set>(re2Options(max_mem), RE2::ANCHOR_BOTH);
    for (const Regex& r : bucket.regexes) {
      std::string error;
      // The same options parsed it already: only memory can make this fail.
      if (set->Add(r.re->pattern(), &error) < 0) {
        return "pattern \"" + r.re->pattern() + "\": " + error;
      }
    }
    if (set->Compile()) {
      bucket.set = std::move(set);
      max_mem_ = std::max(max_mem_, max_mem);
      return {};
    }
    if (max_mem >= options_.max_mem_limit) {
      return std::to_string(bucket.regexes.size()) +
             " patterns do not fit the regex memory limit of " +
             std::to_string(options_.max_mem_limit >> 20) + " MiB";
    }
    max_mem = std::min(max_mem * 2, options_.max_mem_limit);
  }
}

std::string RegexSet::compile() {
  ids_.clear();
  for (auto& [key, bucket] : buckets_) {
    if (std::string error = compileBucket(bucket); !error.empty()) return error;
  }
  return {};
}

void RegexSet::matchBucket(const Bucket& bucket, std::string_view text, std::string_view key,
                           std::vector<int>& ids) const {
  if (!bucket.prefixes.empty()) {
    // Beyond ASCII, RE2's rules decide: UTF-8 validity for `.`, and case folding (U+212A KELVIN
    // SIGN is a "k"). In ASCII, `.` matches any character but a line feed.
    const bool ascii = std::none_of(text.begin(), text.end(),
                                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    for (const Prefix& p : bucket.prefixes) {
      const bool match = ascii ? key.starts_with(p.text) &&
                                     key.find('\n', p.text.size()) == std::string_view::npos
                               : RE2::FullMatch(text, *p.re);
      if (match) ids.push_back(p.id);
    }
  }
  if (bucket.set) {
    std::vector<int>& indexes = scratch().indexes;
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    if (bucket.set->Match(text, &indexes, &info) || info.kind == RE2::Set::kNoError) {
      for (const int i : indexes) ids.push_back(bucket.regexes[i].id);
      return;
    }
    fallbacks_->fetch_add(1, std::memory_order_relaxed);
  }
  for (const Regex& r : bucket.regexes) {
    if (RE2::FullMatch(text, *r.re)) ids.push_back(r.id);
  }
}

void RegexSet::match(std::string_view text, std::vector<int>& ids) const {
  ids.clear();
  std::string_view key = text;
  if (!options_.case_sensitive && !(literals_.empty() && buckets_.empty())) {
    std::string& folded = scratch().folded;
    folded.assign(text);
    std::transform(folded.begin(), folded.end(), folded.begin(), lowerAscii);
    key = folded;
  }
  if (!literals_.empty()) {
    if (auto it = findKey(literals_, key); it != literals_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
    }
  }
  if (!buckets_.empty()) {
    if (auto it = findKey(buckets_, std::string_view()); it != buckets_.end()) {
      matchBucket(it->second, text, key, ids);
    }
    for (size_t at = options_.separator == 0 ? std::string_view::npos
                                             : key.find(options_.separator);
         at != std::string_view::npos; at = key.find(options_.separator, at + 1)) {
      if (auto it = findKey(buckets_, key.substr(0, at + 1)); it != buckets_.end()) {
        matchBucket(it->second, text, key, ids);
      }
    }
  }
  std::sort(ids.begin(), ids.end());
}

}  // namespace portcullis::policy
