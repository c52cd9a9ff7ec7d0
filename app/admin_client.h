// A one-shot HTTP/1.1 GET against the daemon's admin endpoint, for `portcullis status`.
#pragma once

#include <cstdint>
#include <string>

#include "common/duration.h"
#include "common/result.h"

namespace portcullis::app {

struct AdminAddress {
  std::string host = "127.0.0.1";  // SPEC.md proxy.admin default
  uint16_t port = 9964;
};

// "127.0.0.1:9964" or "[::1]:9964"; nullopt-like error (invalid_argument) otherwise.
Result<AdminAddress> parseAdminAddress(std::string_view text);

struct AdminResponse {
  int status = 0;
  std::string body;
};

// Connects, sends GET `path`, reads the answer until the server closes (it always does), all
// within `timeout`. Errors: the connect or read error (connection_refused when no daemon runs),
// timed_out, or bad_message when the answer is not HTTP.
Result<AdminResponse> adminGet(const AdminAddress& at, const std::string& path, Duration timeout);

}  // namespace portcullis::app
