#include "proxy/access_log_http_entry.h"

#include "proxy/asio_address.h"
#include "proxy/http_responses.h"

namespace portcullis::proxy {
namespace {

AccessEndpoint endpointOf(const AccessLogHttpEntry::Endpoint& e) {
  return {fromAsio(e.address()), e.port()};
}

// "HTTP/1.1 503 Service Unavailable..." -> 503.
uint16_t statusOf(std::string_view canned) {
  constexpr size_t kAt = sizeof "HTTP/1.1 " - 1;
  uint16_t status = 0;
  for (size_t i = kAt; i < kAt + 3 && i < canned.size(); ++i) status = status * 10 + (canned[i] - '0');
  return status;
}

std::string_view infoFor(uint16_t status) {
  switch (status) {
    case 400: return "malformed request";
    case 502: return "bad upstream response";
    case 503: return "upstream unavailable";
    case 504: return "upstream timed out";
    default: return {};
  }
}

}  // namespace

void AccessLogHttpEntry::attach(AccessLog* log, std::string_view listener,
                                policy::Direction direction, const Endpoint& client,
                                const Endpoint& destination) {
  log_ = log;
  listener_ = listener;
  direction_ = direction;
  source_ = endpointOf(client);
  destination_ = endpointOf(destination);
}

void AccessLogHttpEntry::start(std::string_view method, std::string_view host,
                               std::string_view target, std::string_view rule) {
  pending_ = true;
  method_.assign(method);
  host_.assign(host);
  target_.assign(target);
  rule_.assign(rule);
  status_ = 0;
  response_bytes_ = 0;
  time_ = std::chrono::system_clock::now();
  started_ = std::chrono::steady_clock::now();
}

void AccessLogHttpEntry::endWithAnswer(std::string_view canned, bool response_started) {
  if (!pending_) return;
  if (response_started) {
    finish(AccessVerdict::kError, "response cut");
    return;
  }
  status_ = statusOf(canned);
  response_bytes_ = canned.size();
  finish(status_ == 403 ? AccessVerdict::kDenied : AccessVerdict::kError, infoFor(status_));
}

void AccessLogHttpEntry::finish(AccessVerdict verdict, std::string_view info) {
  pending_ = false;
  AccessRecord r;
  r.time = time_;
  r.direction = direction_;
  r.verdict = verdict;
  r.protocol = AccessProtocol::kHttp;
  r.rule = rule_;
  r.listener = listener_;
  r.source = source_;
  r.destination = destination_;
  r.http = {method_, host_, target_, status_, response_bytes_,
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  started_)};
  r.info = info;
  log_->log(r);
}

}  // namespace portcullis::proxy
