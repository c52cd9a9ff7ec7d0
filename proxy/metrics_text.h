// Writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): a HELP and a TYPE line per
// family, then its samples; label values escaped (backslash, double quote, line feed); histograms
// as cumulative _bucket{le="..."} series ending in le="+Inf", then _sum and _count.
// The caller keeps each family's samples together, as the format requires.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/metrics_histogram.h"

namespace portcullis::proxy {

class PrometheusText {
 public:
  enum class Type : uint8_t { kCounter, kGauge, kHistogram };
  using Label = std::pair<std::string_view, std::string_view>;
  using Labels = std::initializer_list<Label>;

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  void family(std::string_view name, std::string_view help, Type type);
  void sample(std::string_view name, Labels labels, uint64_t value);
  void sample(std::string_view name, Labels labels, int64_t value);
  void sample(std::string_view name, Labels labels, double value);
  // `name` is the family's; the buckets are latencies, exposed in seconds.
  void histogram(std::string_view name, Labels labels, const HistogramSnapshot& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  static std::string escapeLabelValue(std::string_view value);
  static std::string formatDouble(double value);

 private:
  void series(std::string_view name, std::string_view suffix, Labels labels, const Label* extra);

  std::string out_;
};

}  // namespace portcullis::proxy
