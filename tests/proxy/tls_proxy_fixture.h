// What the TlsProxy tests share (tls_proxy_test.cc, tls_intercept_test.cc): a TlsProxy on
// 127.0.0.1 port 0 whose every connection "was going to" 127.0.0.1:<origin port> (no TPROXY, no
// privileges), on a one-thread pool that TearDown stops.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "proxy/io_pool.h"
#include "proxy/policy_store.h"
#include "proxy/tls_proxy.h"

namespace portcullis::proxy::tls_testing {

class TlsProxyFixture : public ::testing::Test {
 protected:
  // Stores `policy` and starts the proxy; `tweak` adjusts its options first.
  void startProxy(uint16_t origin_port, PolicyStore::Pointer policy,
                  const std::function<void(TlsProxyOptions&)>& tweak = {}) {
    store_.store(std::move(policy));
    TlsProxyOptions options;
    options.bind = {Tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
    options.transparent = false;
    options.upstream_mark = 0;
    options.original_destination = [origin_port](const Tcp::socket&, std::error_code&) {
      return Tcp::endpoint(boost::asio::ip::address_v4::loopback(), origin_port);
    };
    if (tweak) tweak(options);
    proxy_ = std::make_unique<TlsProxy>(pool_, options, store_);
    ASSERT_TRUE(proxy_->start());
    pool_.start();
  }

  void TearDown() override {
    if (proxy_) proxy_->stopAccepting();
    pool_.stop();
    pool_.join();
  }

  IoPool pool_{1, IoPool::Model::kContextPerThread};
  PolicyStore store_;
  std::unique_ptr<TlsProxy> proxy_;
};

}  // namespace portcullis::proxy::tls_testing
