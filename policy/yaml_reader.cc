#include "policy/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <string>

namespace portcullis::policy {
namespace {

// Scalars quoted in messages are cut here, so one message stays one readable line.
constexpr std::size_t kQuoteLimit = 60;

std::string in(const std::string& path) { return path.empty() ? "at the top level" : "in " + path; }

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// Only counts documents and remembers where the second one starts.
class DocumentCounter : public YAML::EventHandler {
 public:
  int documents() const { return documents_; }
  const YAML::Mark& second() const { return second_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 2) second_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  int documents_ = 0;
  YAML::Mark second_ = YAML::Mark::null_mark();
};

}  // namespace

std::string excerpt(std::string_view text) {
  std::string out = "'";
  for (char c : text.substr(0, kQuoteLimit)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (text.size() > kQuoteLimit) out += "...";
  return out + "'";
}

const YamlValue* YamlMap::find(std::string_view key) const {
  const Field* f = field(key);
  return f ? &f->value : nullptr;
}

const YamlMap::Field* YamlMap::field(std::string_view key) const {
  for (const auto& f : fields_) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

YamlReader::YamlReader(std::string_view file) : file_(file) {}

std::optional<YamlValue> YamlReader::load(std::string_view text) {
  budget_ = 8 * text.size() + 4096;
  const SourceLocation start{file_, 1, 1};
  const std::string copy(text);
  YAML::Node root;
  DocumentCounter counter;
  try {
    root = YAML::Load(copy);
    // yaml-cpp 0.7's LoadAll never returns on some inputs (a lone ',' is reported as an empty
    // document again and again without being consumed), so the documents are counted with the
    // event parser, stopping at the second.
    std::istringstream in(copy);
    YAML::Parser parser(in);
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp marks are 0-based; some errors carry none.
    error(e.mark.is_null() ? start : SourceLocation{file_, e.mark.line + 1, e.mark.column + 1},
          "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (counter.documents() > 1) {
    const YAML::Mark m = counter.second();
    error(m.is_null() ? start : SourceLocation{file_, m.line + 1, m.column + 1},
          "expected one YAML document, found another");
    return std::nullopt;
  }
  return YamlValue{root, locate(root, start), ""};
}

void YamlReader::error(const SourceLocation& where, std::string message) {
  // One diagnostic is one line, whatever text (a key, RE2's error) it quotes.
  for (char& c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  errors_.push_back(Diagnostic{where, std::move(message)});
}

std::vector<Diagnostic> YamlReader::takeErrors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
  return std::move(errors_);
}

SourceLocation YamlReader::locate(const YAML::Node& node, const SourceLocation& fallback) const {
  if (!node.IsDefined()) return fallback;
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return fallback;
  return SourceLocation{file_, mark.line + 1, mark.column + 1};
}

std::string YamlReader::describe(const YAML::Node& node) const {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return excerpt(node.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

bool YamlReader::charge(std::size_t units, const SourceLocation& where) {
  if (units <= budget_) {
    budget_ -= units;
    return true;
  }
  budget_ = 0;
  if (!budget_reported_) {
    budget_reported_ = true;
    error(where, "YAML aliases expand this document too far; write the repeated parts out");
  }
  return false;
}

std::optional<YamlMap> YamlReader::map(const YamlValue& v,
                                       std::initializer_list<std::string_view> allowed) {
  if (!v.node.IsMap()) {
    error(v.where,
          (v.path.empty() ? "the document" : v.path) + ": expected a map, got " + describe(v.node));
    return std::nullopt;
  }
  if (!charge(1 + v.node.size(), v.where)) return std::nullopt;
  YamlMap m;
  m.where_ = v.where;
  m.path_ = v.path;
  for (const auto& kv : v.node) {
    const SourceLocation key_where = locate(kv.first, v.where);
    if (!kv.first.IsScalar()) {
      error(key_where, "expected a plain key " + in(v.path) + ", got " + describe(kv.first));
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      error(key_where, "unknown key " + excerpt(key) + " " + in(v.path) + "; allowed: " + names);
      continue;
    }
    if (const YamlMap::Field* first = m.field(key)) {
      error(key_where, "duplicate key " + excerpt(key) + " " + in(v.path) + " (first at line " +
                           std::to_string(first->key_where.line) + ")");
      continue;
    }
    // An empty value (`key:` and a line break) is marked where the next token starts; the key
    // is the better place to point at.
    SourceLocation value_where = locate(kv.second, key_where);
    if (kv.second.IsNull() && value_where.line != key_where.line) value_where = key_where;
    m.fields_.push_back({key, key_where, YamlValue{kv.second, value_where, child(v.path, key)}});
  }
  return m;
}

std::optional<std::vector<YamlValue>> YamlReader::list(const YamlValue& v) {
  if (!v.node.IsSequence()) {
    error(v.where, v.path + ": expected a list, got " + describe(v.node));
    return std::nullopt;
  }
  if (!charge(1 + v.node.size(), v.where)) return std::nullopt;
  std::vector<YamlValue> items;
  items.reserve(v.node.size());
  for (const auto& item : v.node) {
    items.push_back(
        YamlValue{item, locate(item, v.where), v.path + "[" + std::to_string(items.size()) + "]"});
  }
  return items;
}

std::optional<std::string> YamlReader::scalar(const YamlValue& v, std::string_view expected) {
  if (!v.node.IsScalar()) {
    error(v.where, v.path + ": expected " + std::string(expected) + ", got " + describe(v.node));
    return std::nullopt;
  }
  if (!charge(1 + v.node.Scalar().size(), v.where)) return std::nullopt;
  return v.node.Scalar();
}

std::optional<std::string> YamlReader::string(const YamlValue& v) { return scalar(v, "a string"); }

std::optional<std::string> YamlReader::nonEmptyString(const YamlValue& v) {
  auto text = scalar(v, "a non-empty string");
  if (text && text->empty()) {
    error(v.where, v.path + ": expected a non-empty string");
    return std::nullopt;
  }
  return text;
}

std::optional<uint64_t> YamlReader::integer(const YamlValue& v, uint64_t min, uint64_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  auto text = scalar(v, "an integer in " + range);
  if (!text) return std::nullopt;
  std::string_view digits = *text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    error(v.where, v.path + ": expected an integer in " + range + ", got " + excerpt(*text));
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    error(v.where, v.path + ": " + *text + " is out of range " + range);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> YamlReader::boolean(const YamlValue& v) {
  auto text = scalar(v, "true or false");
  if (!text) return std::nullopt;
  if (equalsIgnoreCase(*text, "true")) return true;
  if (equalsIgnoreCase(*text, "false")) return false;
  error(v.where, v.path + ": expected true or false, got " + excerpt(*text));
  return std::nullopt;
}

std::optional<Duration> YamlReader::positiveDuration(const YamlValue& v) {
  auto text = scalar(v, "a duration like 300ms, 10s, 5m or 1h");
  if (!text) return std::nullopt;
  const std::optional<Duration> d = parseDuration(*text);
  if (!d) {
    error(v.where,
          v.path + ": expected a duration like 300ms, 10s, 5m or 1h, got " + excerpt(*text));
    return std::nullopt;
  }
  if (d->count() <= 0) {
    error(v.where, v.path + ": must be longer than 0");
    return std::nullopt;
  }
  return d;
}

bool YamlReader::matchesChoice(std::string_view text, std::string_view name,
                               bool ignore_case) const {
  return ignore_case ? equalsIgnoreCase(text, name) : text == name;
}

void YamlReader::choiceError(const YamlValue& v, const std::string& text,
                             const std::string& names) {
  error(v.where, v.path + ": expected one of " + names + ", got " + excerpt(text));
}

std::optional<YamlValue> YamlReader::required(const YamlMap& m, std::string_view key) {
  if (const YamlValue* v = m.find(key)) return *v;
  error(m.where(), "missing required key " + excerpt(key) + " " + in(m.path()));
  return std::nullopt;
}

}  // namespace portcullis::policy
