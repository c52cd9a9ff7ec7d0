// The access-log record of the HTTP exchange in progress on one HttpSession: begun at the
// verdict, completed by the response (status, bytes) and logged once when the exchange ends,
// however it ends. Costs one branch per hook when the access log is off.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "policy/model.h"
#include "proxy/access_log.h"

namespace portcullis::proxy {

class AccessLogHttpEntry {
 public:
  using Endpoint = boost::asio::ip::tcp::endpoint;

  // Once per connection, when its original destination is known; `log` may be null (off).
  void attach(AccessLog* log, std::string_view listener, policy::Direction direction,
              const Endpoint& client, const Endpoint& destination);

  // A request head was judged. The views are copied: the parser reuses their buffer.
  void begin(std::string_view method, std::string_view host, std::string_view target,
             std::string_view rule) {
    if (log_ != nullptr) start(method, host, target, rule);
  }
  // A request that did not parse: logged as an error with what the proxy answered.
  void beginMalformed() {
    if (log_ != nullptr) start({}, {}, {}, {});
  }
  void setStatus(uint16_t status) { status_ = status; }
  void addResponseBytes(size_t n) { response_bytes_ += n; }
  bool pending() const { return pending_; }

  // Logs the pending record (nothing when none is pending).
  void end(AccessVerdict verdict, std::string_view info = {}) {
    if (pending_) finish(verdict, info);
  }
  // The proxy answers the exchange itself with `canned` (a 403, or a 400/502/503/504 that ends
  // it as an error); mid-response the client only sees a reset, logged with the origin's status.
  void endWithAnswer(std::string_view canned, bool response_started);

 private:
  void start(std::string_view method, std::string_view host, std::string_view target,
             std::string_view rule);
  void finish(AccessVerdict verdict, std::string_view info);

  AccessLog* log_ = nullptr;
  std::string_view listener_;  // the proxy's name, which outlives its sessions
  policy::Direction direction_ = policy::Direction::kEgress;
  AccessEndpoint source_;
  AccessEndpoint destination_;

  bool pending_ = false;
  std::string method_;  // keep their capacity from one request to the next
  std::string host_;
  std::string target_;
  std::string rule_;
  uint16_t status_ = 0;
  uint64_t response_bytes_ = 0;
  std::chrono::system_clock::time_point time_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace portcullis::proxy
