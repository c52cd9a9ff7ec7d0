// What the HttpProxy tests share (http_session_test.cc, http_keepalive_test.cc): a proxy on a
// one-thread pool and a policy store, started from the options a test gives (usually
// http_testing::loopbackOptions) and stopped by TearDown.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "proxy/http_proxy.h"
#include "proxy/io_pool.h"
#include "proxy/policy_store.h"

namespace portcullis::proxy::http_testing {

class HttpProxyFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    if (proxy_) proxy_->stopAccepting();
    pool_.stop();
    pool_.join();
    proxy_.reset();
  }

  void startProxyWith(HttpProxyOptions options) {
    proxy_ = std::make_unique<HttpProxy>(pool_, std::move(options), store_);
    ASSERT_TRUE(proxy_->start());
    pool_.start();
  }

  Tcp::endpoint proxyEndpoint() const { return proxy_->endpoints().front(); }

  PolicyStore store_;
  IoPool pool_{1, IoPool::Model::kContextPerThread};
  std::unique_ptr<HttpProxy> proxy_;
};

}  // namespace portcullis::proxy::http_testing
