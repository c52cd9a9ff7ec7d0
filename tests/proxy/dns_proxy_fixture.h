// The DNS proxy's loopback test bench, without privileges: plain (not transparent) listeners on
// 127.0.0.1 and ::1, the original destination mapped to a fake upstream (FakeDnsUpstream),
// answers sent from the listener, the io_context run by one thread. The transparent reply path
// needs root and TPROXY: the integration tests' job.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy/compiled_policy.h"
#include "policy/parser.h"
#include "proxy/dns_proxy.h"
#include "tests/proxy/dns_client_support.h"
#include "tests/proxy/dns_fake_upstream.h"

namespace portcullis::proxy::testing {

using std::chrono::milliseconds;

inline std::shared_ptr<const policy::CompiledPolicy> compilePolicy(const std::string& yaml) {
  auto parsed = policy::parsePolicy(yaml, "test-policy.yaml");
  for (const auto& e : parsed.errors) ADD_FAILURE() << e.toString();
  if (!parsed.ok()) return nullptr;
  auto compiled = policy::CompiledPolicy::compile(*parsed.value);
  for (const auto& e : compiled.errors) ADD_FAILURE() << e.toString();
  return compiled.ok() ? *compiled.value : nullptr;
}

// One egress DNS rule named `name` on `port` (UDP and TCP) with the YAML lines of its dns list.
inline std::string dnsPolicy(const std::string& name, uint16_t port, const std::string& dns) {
  return "rules:\n"
         "  - name: " +
         name +
         "\n"
         "    direction: egress\n"
         "    selector:\n"
         "      ports: [{port: " +
         std::to_string(port) +
         ", protocol: ANY}]\n"
         "    dns:\n" +
         dns;
}

// Allows names under example.test (SPEC.md matchPattern) and exact "allowed.test" on `port`.
inline std::string examplePolicy(uint16_t port) {
  return dnsPolicy("dns-test", port,
                   "      - matchName: allowed.test\n"
                   "      - matchPattern: \"*.example.test\"\n");
}

inline std::string denyAllPolicy(uint16_t port) {
  return dnsPolicy("dns-nothing", port, "      - matchName: nothing.invalid\n");
}

inline std::vector<uint8_t> withId(std::vector<uint8_t> m, uint16_t id) {
  if (m.size() >= 2) {
    m[0] = static_cast<uint8_t>(id >> 8);
    m[1] = static_cast<uint8_t>(id);
  }
  return m;
}

inline bool hasIpv6Loopback() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

class DnsProxyFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<FakeDnsUpstream>(io_);
    upstream_->start();
  }

  void TearDown() override {
    if (thread_.joinable()) {
      onIo([&] {
        proxy_->shutdown();
        upstream_->close();
      });
      work_.reset();
      thread_.join();
    }
  }

  // Starts the proxy; `tweak` adjusts the config before.
  void startProxy(const std::function<void(DnsProxyConfig&)>& tweak = {}) {
    if (!store_.load()) store_.store(compilePolicy(examplePolicy(upstream_->port())));
    DnsProxyConfig config;
    config.bind_v6 = hasIpv6Loopback() ? IpAddress::parse("::1") : std::nullopt;
    config.listener.transparent = false;
    config.listener.upstream_mark = 0;
    const auto fake = upstream_->endpoint();
    config.listener.original_destination = [fake](const auto&) { return fake; };
    config.dns.upstream_timeout = milliseconds(2000);
    if (tweak) tweak(config);
    proxy_ = std::make_unique<DnsProxy>(
        executors(), std::move(config), store_, names_, [this](const DnsQueryEvent& e) {
          std::lock_guard lock(events_mutex_);
          events_.push_back(std::string(e.name) + " " + (e.allowed ? "allowed" : "denied") + " " +
                            std::string(e.rule));
        });
    auto started = proxy_->start();
    ASSERT_TRUE(started) << started.error().message();
    ASSERT_NE(proxy_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }

  // Runs `f` on the io_context thread and waits for it.
  void onIo(std::function<void()> f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  DnsCounterValues counters() {
    DnsCounterValues v;
    onIo([&] { v = proxy_->counters(); });
    return v;
  }

  uint16_t port() const { return proxy_->port(); }
  std::vector<DnsProxy::Executor> executors() { return {io_.get_executor()}; }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread thread_;
  PolicyStore store_;
  std::shared_ptr<DnsNameCache> names_ = std::make_shared<DnsNameCache>(1000);
  std::unique_ptr<FakeDnsUpstream> upstream_;
  std::unique_ptr<DnsProxy> proxy_;
  std::mutex events_mutex_;
  std::vector<std::string> events_;
};

}  // namespace portcullis::proxy::testing
