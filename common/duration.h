// Durations as written in the config: "300ms", "10s", "5m", "1h".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis {

using Duration = std::chrono::milliseconds;

// A non-negative integer followed by one unit (ms, s, m, h); nullopt otherwise.
std::optional<Duration> parseDuration(std::string_view text);
std::string formatDuration(Duration d);

}  // namespace portcullis
