// Leveled logging to stderr, one line per event: "2026-11-27T01:02:03.456Z info  message".
// Thread-safe (one write(2) per line). The access log is separate (proxy/access_log).
#pragma once

#include <string_view>
#include <optional>
#include <sstream>
#include <utility>

namespace portcullis::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void setLevel(Level level);
Level level();
std::optional<Level> parseLevel(std::string_view text);
void write(Level level, std::string_view message);

template <class... Args>
void emit(Level lvl, Args&&... args) {
  if (lvl < level()) return;
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  write(lvl, out.str());
}

template <class... Args> void debug(Args&&... a) { emit(Level::kDebug, std::forward<Args>(a)...); }
template <class... Args> void info(Args&&... a) { emit(Level::kInfo, std::forward<Args>(a)...); }
template <class... Args> void warn(Args&&... a) { emit(Level::kWarn, std::forward<Args>(a)...); }
template <class... Args> void error(Args&&... a) { emit(Level::kError, std::forward<Args>(a)...); }

}  // namespace portcullis::log
