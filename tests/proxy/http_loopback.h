// An HttpProxy without privileges on 127.0.0.1, as the HTTP proxy tests and
// bench/http_session_bench set it up: a policy of one egress rule for the origin's port, and
// listener options whose original destination is the test origin instead of TPROXY's local
// address. No gtest here: the bench includes it too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "policy/compiled_policy.h"
#include "proxy/http_proxy_options.h"

namespace portcullis::proxy::http_testing {

inline policy::HttpRule httpEntry(std::string method, std::string path) {
  policy::HttpRule r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

// One egress rule named `name` on TCP `port` with these http entries; null when it does not
// compile.
inline std::shared_ptr<const policy::CompiledPolicy> httpPolicy(uint16_t port,
                                                                std::vector<policy::HttpRule> http,
                                                                std::string name = "web") {
  policy::Rule rule;
  rule.name = std::move(name);
  rule.direction = policy::Direction::kEgress;
  rule.selector.ports = {{port, policy::Protocol::kTcp}};
  rule.l7 = policy::L7Protocol::kHttp;
  rule.http = std::move(http);
  policy::Policy p;
  p.rules.push_back(std::move(rule));
  auto compiled = policy::CompiledPolicy::compile(p);
  return compiled.ok() ? *compiled.value : nullptr;
}

// A plain listener on 127.0.0.1 (any free port), no SO_MARK, every connection "redirected" to
// what `destination()` says when it is accepted.
template <typename Destination>
requires std::is_invocable_r_v<Tcp::endpoint, Destination> HttpProxyOptions
loopbackOptions(Destination destination, std::string name = "test-http") {
  HttpProxyOptions options;
  options.name = std::move(name);
  options.bind = {Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)};
  options.transparent = false;
  options.upstream_mark = 0;
  options.original_destination = [destination](const Tcp::socket&, std::error_code& ec) {
    ec.clear();
    return destination();
  };
  return options;
}

inline HttpProxyOptions loopbackOptions(Tcp::endpoint destination, std::string name = "test-http") {
  return loopbackOptions([destination] { return destination; }, std::move(name));
}

}  // namespace portcullis::proxy::http_testing
