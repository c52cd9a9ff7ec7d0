#include "proxy/metrics_text.h"

#include <charconv>
#include <cmath>

namespace portcullis::proxy {

namespace {

const char* typeName(PrometheusText::Type type) {
  switch (type) {
    case PrometheusText::Type::kCounter: return "counter";
    case PrometheusText::Type::kGauge: return "gauge";
    case PrometheusText::Type::kHistogram: return "histogram";
  }
  return "untyped";
}

// HELP text escapes backslash and line feed only (the format's rule for docstrings).
std::string escapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

template <class T>
std::string integer(T value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

}  // namespace

std::string PrometheusText::escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string PrometheusText::formatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // Shortest form that reads back to the same double: 0.00025, not 0.00025000000000000001.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

void PrometheusText::family(std::string_view name, std::string_view help, Type type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += typeName(type);
  out_ += '\n';
}

void PrometheusText::series(std::string_view name, std::string_view suffix, Labels labels,
                            const Label* extra) {
  out_ += name;
  out_ += suffix;
  if (labels.size() == 0 && extra == nullptr) return;
  out_ += '{';
  bool first = true;
  const auto put = [&](const Label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.first;
    out_ += "=\"";
    out_ += escapeLabelValue(l.second);
    out_ += '"';
  };
  for (const Label& l : labels) put(l);
  if (extra != nullptr) put(*extra);
  out_ += '}';
}

void PrometheusText::sample(std::string_view name, Labels labels, uint64_t value) {
  series(name, "", labels, nullptr);
  out_ += ' ';
  out_ += integer(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, Labels labels, int64_t value) {
  series(name, "", labels, nullptr);
  out_ += ' ';
  out_ += integer(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, Labels labels, double value) {
  series(name, "", labels, nullptr);
  out_ += ' ';
  out_ += formatDouble(value);
  out_ += '\n';
}

void PrometheusText::histogram(std::string_view name, Labels labels, const HistogramSnapshot& h) {
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    const std::string le = i < kLatencyBoundsMicros.size()
                               ? formatDouble(static_cast<double>(kLatencyBoundsMicros[i]) / 1e6)
                               : std::string("+Inf");
    const Label bound{"le", le};
    series(name, "_bucket", labels, &bound);
    out_ += ' ';
    out_ += integer(h.cumulative[i]);
    out_ += '\n';
  }
  series(name, "_sum", labels, nullptr);
  out_ += ' ';
  out_ += formatDouble(static_cast<double>(h.sum_nanos) / 1e9);
  out_ += '\n';
  series(name, "_count", labels, nullptr);
  out_ += ' ';
  out_ += integer(h.count());
  out_ += '\n';
}

}  // namespace portcullis::proxy
