#include "datapath/iptables_state.h"

namespace portcullis::datapath {
namespace {

std::string_view nextWord(std::string_view& text) {
  const auto start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    text = {};
    return {};
  }
  text.remove_prefix(start);
  // A quoted comment is one word, whatever it contains ("-j" included).
  auto end = text.find(' ');
  if (text.front() == '"') {
    auto close = text.find('"', 1);
    while (close != std::string_view::npos && text[close - 1] == '\\') close = text.find('"', close + 1);
    end = close == std::string_view::npos ? close : close + 1;
  }
  const std::string_view word = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end);
  return word;
}

}  // namespace

std::vector<IptablesRule> IptablesTable::rulesOf(std::string_view chain) const {
  std::vector<IptablesRule> out;
  for (const auto& r : rules)
    if (r.chain == chain) out.push_back(r);
  return out;
}

bool IptablesTable::hasChain(std::string_view chain) const {
  for (const auto& c : chains)
    if (c == chain) return true;
  return false;
}

IptablesState IptablesState::parse(std::string_view text) {
  IptablesState state;
  IptablesTable* current = nullptr;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      state.tables.push_back(IptablesTable{std::string(line.substr(1)), {}, {}});
      current = &state.tables.back();
    } else if (current == nullptr || line == "COMMIT") {
      continue;
    } else if (line.front() == ':') {
      std::string_view rest = line.substr(1);
      current->chains.emplace_back(nextWord(rest));
    } else if (line.starts_with("-A ")) {
      std::string_view rest = line.substr(3);
      const std::string_view chain = nextWord(rest);
      const auto start = rest.find_first_not_of(' ');
      current->rules.push_back(IptablesRule{
          std::string(chain), std::string(start == std::string_view::npos ? "" : rest.substr(start))});
    }
  }
  return state;
}

const IptablesTable* IptablesState::table(std::string_view name) const {
  for (const auto& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

bool isOurChain(std::string_view chain) { return chain.starts_with(kChainPrefix); }

std::optional<std::string> jumpTarget(std::string_view spec) {
  std::string_view rest = spec;
  while (!rest.empty()) {
    const std::string_view word = nextWord(rest);
    if (word == "-j" || word == "-g" || word == "--jump" || word == "--goto") {
      return std::string(nextWord(rest));
    }
  }
  return std::nullopt;
}

bool hasOurComment(std::string_view spec) {
  // iptables-save quotes a comment only when it contains spaces.
  return spec.find("--comment \"portcullis:") != std::string_view::npos ||
         spec.find("--comment portcullis:") != std::string_view::npos;
}

bool isOurRule(const IptablesRule& rule) {
  if (isOurChain(rule.chain) || hasOurComment(rule.spec)) return true;
  const auto target = jumpTarget(rule.spec);
  return target && isOurChain(*target);
}

}  // namespace portcullis::datapath
