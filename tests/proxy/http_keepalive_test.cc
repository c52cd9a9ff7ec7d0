// Keep-alive paths of HttpSession that the per-request optimisations touch: requests arriving
// while the previous exchange is still in flight, and the per-thread buffer pool.
#include <gtest/gtest.h>

#include <future>

#include "policy/compiled_policy.h"
#include "proxy/byte_buffer.h"
#include "proxy/http_proxy.h"
#include "tests/proxy/http_loopback.h"
#include "tests/proxy/http_proxy_fixture.h"
#include "tests/proxy/http_test_support.h"

namespace portcullis::proxy {
namespace {

using namespace std::chrono_literals;
using http_testing::Client;
using http_testing::Message;
using http_testing::Reply;
using http_testing::TestOrigin;

class HttpKeepAliveTest : public http_testing::HttpProxyFixture {
 protected:
  void startProxy(TestOrigin& origin, size_t buffer_bytes = 16 * 1024) {
    const Tcp::endpoint destination = origin.endpoint();
    auto policy = http_testing::httpPolicy(destination.port(),
                                           {http_testing::httpEntry("GET", "/public/.*")});
    ASSERT_TRUE(policy);
    store_.store(std::move(policy));
    HttpProxyOptions options = http_testing::loopbackOptions(destination);
    options.buffer_bytes = buffer_bytes;
    startProxyWith(std::move(options));
  }
};

// The next request arrives (and the proxy's event loop sees it arrive) while the proxy reads
// nothing from the client, because it waits for the origin's response: it must still be served
// once that response has gone down, with no further byte from the client to wake it.
TEST_F(HttpKeepAliveTest, RequestSentWhileTheResponseIsAwaitedIsServed) {
  std::promise<void> release_first;
  std::shared_future<void> first_released = release_first.get_future().share();
  TestOrigin origin([first_released](const Message& m) {
    if (m.target == "/public/slow") first_released.wait();
    return Reply{http_testing::okResponse(m.target)};
  });
  startProxy(origin);
  Client client(proxyEndpoint());
  client.send("GET /public/slow HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(origin.waitForConnections(1));
  client.send("GET /public/next HTTP/1.1\r\nHost: a\r\n\r\n");
  // No event marks the moment the proxy's epoll_wait has reported the second request's arrival;
  // it does so within microseconds of the segment landing, well inside this pause.
  std::this_thread::sleep_for(100ms);
  release_first.set_value();
  const auto first = client.response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "/public/slow");
  const auto second = client.response();
  ASSERT_TRUE(second) << "the second request was never answered";
  EXPECT_EQ(second->body, "/public/next");
}

// The origin ends its connection after a response (Connection: close, as nginx does after
// keepalive_requests): the client's next request goes out on a new origin connection, whose
// response is parsed afresh. It got a 502 ("Data after `Connection: close`") when the response
// parser kept the closed connection's state.
TEST_F(HttpKeepAliveTest, NextRequestAfterTheOriginClosedItsConnectionIsServedOnANewOne) {
  TestOrigin origin([](const Message& m) {
    Reply r{http_testing::okResponse(m.target, "Connection: close\r\n")};
    r.close = true;
    return r;
  });
  startProxy(origin);
  Client client(proxyEndpoint());
  for (const std::string target : {"/public/1", "/public/2", "/public/3"}) {
    const auto response = client.roundTrip("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->status, 200) << target;
    EXPECT_EQ(response->body, target);
  }
  EXPECT_EQ(origin.connections(), 3);
}

Reply echoHeader(const Message& m) {
  return Reply{http_testing::okResponse(m.header("x-fill").value_or("-"))};
}

// Between requests the next head is read into a small buffer first (HttpSession::idle_read_);
// heads longer than it, and buffers smaller than it, must still come through whole.
TEST_F(HttpKeepAliveTest, HeadsLongerThanTheIdleReadAreReadWhole) {
  TestOrigin origin(echoHeader);
  startProxy(origin);
  Client client(proxyEndpoint());
  for (const size_t size : {10, 500, 511, 512, 513, 3000, 9000}) {
    const std::string fill(size, 'f');
    const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\nX-Fill: " + fill + "\r\n\r\n");
    ASSERT_TRUE(r) << size;
    EXPECT_EQ(r->body, fill) << size;
  }
  EXPECT_EQ(origin.connections(), 1);
}

TEST_F(HttpKeepAliveTest, BufferSmallerThanTheIdleReadStillCarriesEveryByte) {
  TestOrigin origin(echoHeader);
  startProxy(origin, 200);
  Client client(proxyEndpoint());
  for (int i = 0; i < 3; ++i) {
    const std::string fill(100 + i, 'g');
    const auto r = client.roundTrip("GET /public/y HTTP/1.1\r\nHost: a\r\nX-Fill: " + fill + "\r\n\r\n");
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, fill) << i;
  }
}

TEST_F(HttpKeepAliveTest, ClientClosingAnIdleConnectionEndsTheSession) {
  TestOrigin origin(echoHeader);
  startProxy(origin);
  {
    Client client(proxyEndpoint());
    ASSERT_TRUE(client.roundTrip("GET /public/z HTTP/1.1\r\nHost: a\r\n\r\n"));
  }
  for (int i = 0; i < 500 && proxy_->activeConnections() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(proxy_->activeConnections(), 0u);
}

}  // namespace
}  // namespace portcullis::proxy
