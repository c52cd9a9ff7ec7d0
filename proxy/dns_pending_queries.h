// The queries an upstream (UDP socket or TCP connection) has sent and not yet answered, in
// sending order. Every query gets the same proxy.dns.upstream-timeout, so sending order is
// deadline order and one timer, armed for the oldest query, serves them all.
//
// The owner removes a query when its answer comes (take), and is told through `fail` when one
// expires or when it fails them all (its socket's error). `fail` must remove the query it is
// given; it may also close() the queue, which ends any loop in progress.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <memory_resource>
#include <system_error>
#include <utility>

#include "common/duration.h"

namespace portcullis::proxy {

template <typename Query>
class DnsPendingQueries {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Query query;
    Clock::time_point deadline;
  };
  // A pmr list: the owner may hand in a pool, so that a query costs no allocation once the pool
  // holds enough nodes.
  using List = std::pmr::list<Entry>;
  using Iterator = typename List::iterator;
  using Fail = std::function<void(Iterator, std::error_code)>;

  // `memory` must outlive the queue.
  DnsPendingQueries(const boost::asio::any_io_executor& executor, Duration timeout, Fail fail,
                    std::pmr::memory_resource* memory = std::pmr::get_default_resource())
      : timer_(executor), timeout_(timeout), fail_(std::move(fail)), entries_(memory) {}
  DnsPendingQueries(const DnsPendingQueries&) = delete;
  DnsPendingQueries& operator=(const DnsPendingQueries&) = delete;

  // Appends a query due one timeout from now. `owner` (the object holding this queue) is kept
  // alive by the timer's wait, so an expiry always finds it.
  Iterator push(Query query, std::shared_ptr<void> owner) {
    entries_.push_back({std::move(query), Clock::now() + timeout_});
    arm(std::move(owner));
    return std::prev(entries_.end());
  }

  // Removes an answered (or given up) query and gives it back.
  Query take(Iterator it) {
    Query query = std::move(it->query);
    entries_.erase(it);
    return query;
  }

  // `fail` for every query, oldest first, until none is left or the queue is closed.
  void failAll(std::error_code ec) {
    while (!entries_.empty() && !closed_) fail_(entries_.begin(), ec);
  }

  // Drops every query without `fail`, and stops the timer for good.
  void close() {
    closed_ = true;
    timer_.cancel();
    entries_.clear();
  }

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  Iterator begin() { return entries_.begin(); }
  Iterator end() { return entries_.end(); }

 private:
  void arm(std::shared_ptr<void> owner) {
    if (armed_ || entries_.empty() || closed_) return;
    armed_ = true;
    timer_.expires_at(entries_.front().deadline);
    // `this` lives as long as `owner`, which the handler holds.
    timer_.async_wait([this, owner = std::move(owner)](const boost::system::error_code& ec) {
      armed_ = false;
      if (ec || closed_) return;
      const auto now = Clock::now();
      while (!entries_.empty() && !closed_ && entries_.front().deadline <= now) {
        fail_(entries_.begin(), std::make_error_code(std::errc::timed_out));
      }
      arm(owner);
    });
  }

  boost::asio::steady_timer timer_;
  const Duration timeout_;
  const Fail fail_;
  List entries_;
  bool armed_ = false;
  bool closed_ = false;
};

}  // namespace portcullis::proxy
