// Typed, error-collecting reads of a yaml-cpp document for the config and policy parsers.
// Private to policy/: only the parsers include it. Every failed read records a Diagnostic at the
// offending key or value and returns nullopt, so a parser keeps going and reports every error of
// a file in one pass.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "policy/diagnostic.h"

namespace portcullis::policy {

// `text` in single quotes for a message: control characters replaced, cut after 60 characters.
std::string excerpt(std::string_view text);

// A node together with where it stands and the path that names it in messages
// ("rules[2].selector.ports[0].port").
struct YamlValue {
  YAML::Node node;
  SourceLocation where;
  std::string path;
};

// A map's keys in file order. Unknown and duplicate keys were already reported.
class YamlMap {
 public:
  struct Field {
    std::string key;
    SourceLocation key_where;
    YamlValue value;
  };

  const YamlValue* find(std::string_view key) const;
  const Field* field(std::string_view key) const;
  const SourceLocation& where() const { return where_; }
  const std::string& path() const { return path_; }

 private:
  friend class YamlReader;
  SourceLocation where_;
  std::string path_;
  std::vector<Field> fields_;
};

class YamlReader {
 public:
  explicit YamlReader(std::string_view file);

  // Parses a single-document text. On a syntax error records it and returns nullopt. An empty
  // document is a null node at 1:1.
  std::optional<YamlValue> load(std::string_view text);

  void error(const SourceLocation& where, std::string message);
  // Moves the diagnostics out, sorted by position.
  std::vector<Diagnostic> takeErrors();
  std::size_t errorCount() const { return errors_.size(); }
  const std::string& file() const { return file_; }

  // Each read reports a type or range mismatch and returns nullopt. `allowed` lists the keys the
  // map may hold; the others are reported along with the allowed ones.
  std::optional<YamlMap> map(const YamlValue& v, std::initializer_list<std::string_view> allowed);
  std::optional<std::vector<YamlValue>> list(const YamlValue& v);
  std::optional<std::string> string(const YamlValue& v);
  std::optional<std::string> nonEmptyString(const YamlValue& v);
  std::optional<uint64_t> integer(const YamlValue& v, uint64_t min, uint64_t max);
  std::optional<bool> boolean(const YamlValue& v);
  std::optional<Duration> positiveDuration(const YamlValue& v);
  // One of `names`, compared exactly or, with ignore_case, ASCII case-insensitively.
  template <class E>
  std::optional<E> choice(const YamlValue& v,
                          std::initializer_list<std::pair<std::string_view, E>> names,
                          bool ignore_case = false);
  // A list whose every element is read with `read`; elements that fail are left out.
  template <class T, class Read>
  std::optional<std::vector<T>> listOf(const YamlValue& v, Read read);

  // A string that `check` accepts; `check` returns why it does not (see rule_syntax.h).
  template <class Check>
  std::optional<std::string> checked(const YamlValue& v, Check check);

  // The value of a key the map must have; reports it missing at the map otherwise.
  std::optional<YamlValue> required(const YamlMap& m, std::string_view key);

 private:
  // Reading through YAML aliases can revisit one subtree many times (an alias of an alias of a
  // list...). Charging every visited node and scalar byte against a budget proportional to the
  // text keeps a hostile file linear; once spent, reads fail with one diagnostic.
  bool charge(std::size_t units, const SourceLocation& where);
  bool matchesChoice(std::string_view text, std::string_view name, bool ignore_case) const;
  void choiceError(const YamlValue& v, const std::string& text, const std::string& names);
  SourceLocation locate(const YAML::Node& node, const SourceLocation& fallback) const;
  std::string describe(const YAML::Node& node) const;
  std::optional<std::string> scalar(const YamlValue& v, std::string_view expected);

  std::string file_;
  std::vector<Diagnostic> errors_;
  std::size_t budget_ = 0;
  bool budget_reported_ = false;
};

template <class E>
std::optional<E> YamlReader::choice(const YamlValue& v,
                                    std::initializer_list<std::pair<std::string_view, E>> names,
                                    bool ignore_case) {
  std::string all;
  for (const auto& [name, value] : names) {
    if (!all.empty()) all += '|';
    all += name;
  }
  auto text = scalar(v, "one of " + all);
  if (!text) return std::nullopt;
  for (const auto& [name, value] : names) {
    if (matchesChoice(*text, name, ignore_case)) return value;
  }
  choiceError(v, *text, all);
  return std::nullopt;
}

template <class Check>
std::optional<std::string> YamlReader::checked(const YamlValue& v, Check check) {
  auto text = string(v);
  if (!text) return std::nullopt;
  if (std::optional<std::string> why = check(*text)) {
    error(v.where, v.path + ": " + *why + ", got " + excerpt(*text));
    return std::nullopt;
  }
  return text;
}

template <class T, class Read>
std::optional<std::vector<T>> YamlReader::listOf(const YamlValue& v, Read read) {
  auto items = list(v);
  if (!items) return std::nullopt;
  std::vector<T> out;
  out.reserve(items->size());
  for (const auto& item : *items) {
    if (std::optional<T> x = read(item)) out.push_back(std::move(*x));
  }
  return out;
}

}  // namespace portcullis::policy
