// Terse constructors of policy::Policy values for the matcher tests, which build policies in
// C++ rather than YAML so they do not depend on the parser.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "policy/compiled_policy.h"
#include "policy/model.h"

namespace portcullis::policy::builders {

inline IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

inline Cidr cidr(const char* text) {
  auto c = Cidr::parse(text);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(Cidr{});
}

inline std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* t : texts) out.push_back(cidr(t));
  return out;
}

inline HttpRule http(std::string method, std::string path, std::string host = {},
                     std::vector<std::string> headers = {},
                     std::vector<HeaderMatch> header_matches = {}) {
  HttpRule r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.host = std::move(host);
  r.headers = std::move(headers);
  r.header_matches = std::move(header_matches);
  return r;
}

inline Rule rule(std::string name, L7Protocol l7, std::vector<PortProtocol> ports,
                 Direction direction = Direction::kEgress) {
  Rule r;
  r.name = std::move(name);
  r.l7 = l7;
  r.direction = direction;
  r.selector.ports = std::move(ports);
  return r;
}

inline Rule httpRule(std::string name, std::vector<HttpRule> entries, uint16_t port = 80,
                     Direction direction = Direction::kEgress) {
  Rule r = rule(std::move(name), L7Protocol::kHttp, {{port, Protocol::kTcp}}, direction);
  r.http = std::move(entries);
  return r;
}

inline Rule dnsRule(std::string name, std::vector<std::string> names,
                    std::vector<std::string> patterns) {
  Rule r = rule(std::move(name), L7Protocol::kDns, {{53, Protocol::kAny}});
  for (auto& n : names)
    r.dns.push_back({.match_name = std::move(n), .match_pattern = {}, .where = {}});
  for (auto& p : patterns)
    r.dns.push_back({.match_name = {}, .match_pattern = std::move(p), .where = {}});
  return r;
}

inline Flow flow(const char* source, const char* destination, uint16_t port,
                 Protocol protocol = Protocol::kTcp, Direction direction = Direction::kEgress) {
  return Flow{direction, ip(source), ip(destination), port, protocol};
}

inline std::shared_ptr<const CompiledPolicy> compileOrFail(const Policy& policy) {
  auto compiled = CompiledPolicy::compile(policy);
  for (const auto& e : compiled.errors) ADD_FAILURE() << e.toString();
  EXPECT_TRUE(compiled.ok());
  return compiled.value.value_or(nullptr);
}

}  // namespace portcullis::policy::builders
