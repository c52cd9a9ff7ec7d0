// When a burst of file events has settled: an editor's save or a ConfigMap update is several
// events within milliseconds, and reading the files after the first one could see half of the
// change. Trailing-edge debounce (each event moves the deadline to `quiet` after it), bounded by
// `max_delay` after the burst's first event so that a file rewritten without pause still
// reloads. Pure time arithmetic; PolicyWatcher runs the timer.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace portcullis::app {

class PolicyWatchDebounce {
 public:
  using Clock = std::chrono::steady_clock;

  PolicyWatchDebounce(Clock::duration quiet, Clock::duration max_delay)
      : quiet_(quiet), max_delay_(max_delay) {}

  // An event at `now`; returns the deadline to (re)arm the timer for.
  Clock::time_point event(Clock::time_point now) {
    if (!pending_) first_ = now;
    pending_ = true;
    deadline_ = std::min(now + quiet_, first_ + max_delay_);
    return deadline_;
  }
  // The deadline, if events are pending.
  std::optional<Clock::time_point> deadline() const {
    return pending_ ? std::optional(deadline_) : std::nullopt;
  }
  // True (and the burst is over) when events are pending and their deadline has passed.
  bool due(Clock::time_point now) {
    if (!pending_ || now < deadline_) return false;
    pending_ = false;
    return true;
  }

 private:
  const Clock::duration quiet_;
  const Clock::duration max_delay_;
  // Plain values and a flag rather than optionals: GCC 12 warns (maybe-uninitialized) on the
  // optionals' arithmetic once inlined.
  bool pending_ = false;
  Clock::time_point first_{};
  Clock::time_point deadline_{};
};

}  // namespace portcullis::app
