// A policy reload (PolicyStore::store, as SIGHUP does) while I/O threads judge requests, in both
// threading models. In the release tier it checks every verdict comes from one whole policy; in
// the ThreadSanitizer tier (scripts/test.sh --tsan) it is the test that makes the store's
// writer and the sessions' readers meet.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "proxy/http_proxy.h"
#include "tests/proxy/http_loopback.h"
#include "tests/proxy/http_test_support.h"

namespace portcullis::proxy {
namespace {

using http_testing::Client;
using http_testing::httpEntry;
using http_testing::Message;
using http_testing::Reply;
using http_testing::TestOrigin;

// Two policies that agree on /public/ (allowed) and /private (denied), and differ on /flip/:
// only the second allows it. A request to /flip/ gets 200 or 403, whichever was in force.
std::shared_ptr<const policy::CompiledPolicy> policyOf(uint16_t port, bool flip) {
  std::vector<policy::HttpRule> rules = {httpEntry("GET", "/public/.*")};
  if (flip) rules.push_back(httpEntry("GET", "/flip/.*"));
  auto compiled = http_testing::httpPolicy(port, std::move(rules));
  EXPECT_TRUE(compiled);
  return compiled;
}

class HttpReloadRaceTest : public ::testing::TestWithParam<IoPool::Model> {};

TEST_P(HttpReloadRaceTest, ReloadsWhileClientsInParallelJudgeEachRequestByOneWholePolicy) {
  TestOrigin origin([](const Message& m) { return Reply{http_testing::okResponse(m.target)}; });
  const auto without_flip = policyOf(origin.port(), false);
  const auto with_flip = policyOf(origin.port(), true);
  PolicyStore store(without_flip);
  IoPool pool(2, GetParam());
  HttpProxy proxy(pool, http_testing::loopbackOptions(origin.endpoint()), store);
  ASSERT_TRUE(proxy.start());
  pool.start();

  constexpr int kClients = 4;
  constexpr int kRequests = 30;
  std::atomic<bool> clients_done{false};
  std::atomic<int> wrong{0};
  std::atomic<int> flip_allowed{0};
  std::atomic<int> flip_denied{0};
  std::thread reloader([&] {
    // Bounded: at least 2 swaps and at most 2000, whether or not the clients are still running.
    for (int i = 0; i < 2000 && (i < 2 || !clients_done.load()); ++i) {
      store.store(i % 2 == 0 ? with_flip : without_flip);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client(proxy.endpoints().front());
      for (int r = 0; r < kRequests; ++r) {
        const std::string target = "/" + std::string(r % 3 == 0   ? "public"
                                                     : r % 3 == 1 ? "flip"
                                                                  : "private") +
                                   "/" + std::to_string(c) + "/" + std::to_string(r);
        const auto response = client.roundTrip("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
        const int status = response ? response->status : -1;
        if (r % 3 == 0 && !(status == 200 && response->body == target)) ++wrong;
        if (r % 3 == 2 && status != 403) ++wrong;
        if (r % 3 == 1) {
          if (status == 200 && response->body == target) {
            ++flip_allowed;
          } else if (status == 403) {
            ++flip_denied;
          } else {
            ++wrong;
          }
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  clients_done = true;
  reloader.join();

  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(flip_allowed.load() + flip_denied.load(), kClients * kRequests / 3);
  EXPECT_GE(store.generation(), 2u);
  const HttpCountersSnapshot counters = proxy.counters();
  EXPECT_EQ(counters.requests_allowed, uint64_t(kClients * kRequests / 3 + flip_allowed.load()));
  EXPECT_EQ(counters.requests_denied, uint64_t(kClients * kRequests / 3 + flip_denied.load()));
  proxy.stopAccepting();
  pool.stop();
  pool.join();
}

INSTANTIATE_TEST_SUITE_P(Models, HttpReloadRaceTest,
                         ::testing::Values(IoPool::Model::kContextPerThread,
                                           IoPool::Model::kSharedContext));

}  // namespace
}  // namespace portcullis::proxy
