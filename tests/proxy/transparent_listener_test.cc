// TransparentListener's one accept loop (readiness wait, accept4 in bounded batches) when several
// threads run its io_context (IoPool::Model::kSharedContext): every connection handed on exactly
// once, each on a strand of its own; admission counted across threads; stop() from another
// thread ends the loop for good. (One thread: http_listener_sockets_test.cc.)
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "proxy/transparent_listener.h"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::any_io_executor>;  // what make_strand(any_io_executor) makes
using std::chrono::milliseconds;

const Tcp::endpoint kLoopback(asio::ip::make_address("127.0.0.1"), 0);
constexpr int kThreads = 4;

// An io_context run by kThreads threads until destroyed.
class ThreadedContext {
 public:
  ThreadedContext() {
    for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~ThreadedContext() {
    guard_.reset();
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
  }
  asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  asio::io_context io_{kThreads};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::vector<std::thread> threads_;
};

// What the accept handler saw, from any thread.
struct Seen {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<Tcp::endpoint, int> clients;  // times each client was handed on
  std::vector<Strand> strands;
  size_t handled = 0;
  size_t not_on_a_strand = 0;

  // Waits (bounded) until `handled` reaches `count`; returns it.
  size_t waitFor(size_t count, milliseconds limit = milliseconds(10000)) {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, limit, [&] { return handled >= count; });
    return handled;
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return handled;
  }
};

// Records the connection, then echoes one byte on the socket's own executor.
TransparentListener::Handler recordAndEcho(Seen& seen) {
  return [&seen](Tcp::socket socket, const Tcp::endpoint& client) {
    auto s = std::make_shared<Tcp::socket>(std::move(socket));
    {
      std::lock_guard lock(seen.mutex);
      ++seen.clients[client];
      const asio::any_io_executor executor = s->get_executor();
      const Strand* strand = executor.target<Strand>();
      if (strand == nullptr) {
        ++seen.not_on_a_strand;
      } else {
        seen.strands.push_back(*strand);
      }
      ++seen.handled;
    }
    seen.changed.notify_all();
    auto byte = std::make_shared<std::array<char, 1>>();
    asio::async_read(*s, asio::buffer(*byte), [s, byte](boost::system::error_code ec, size_t) {
      if (!ec) asio::async_write(*s, asio::buffer(*byte), [s, byte](auto, size_t) {});
    });
  };
}

// A blocking client connection that sends one byte and expects it back.
bool connectAndEcho(asio::io_context& io, const Tcp::endpoint& server,
                    std::vector<Tcp::socket>& keep, std::mutex& keep_mutex) {
  Tcp::socket client(io);
  boost::system::error_code ec;
  client.connect(server, ec);
  if (ec) return false;
  char byte = 'x';
  asio::write(client, asio::buffer(&byte, 1), ec);
  char back = 0;
  if (!ec) asio::read(client, asio::buffer(&back, 1), ec);
  if (ec || back != 'x') return false;
  std::lock_guard lock(keep_mutex);
  keep.push_back(std::move(client));  // open, so that no later client reuses its port
  return true;
}

class TransparentListenerTest : public ::testing::Test {
 protected:
  // A loopback listener on context_, a strand per connection, recording into seen_; open.
  void openRecording() {
    TransparentListener::Options options;
    options.transparent = false;
    options.strand_per_connection = true;
    auto opened =
        TransparentListener::open(context_.executor(), kLoopback, options, recordAndEcho(seen_));
    ASSERT_TRUE(opened);
    listener_ = std::move(opened).value();
  }

  // The strands seen must go before the io_context that owns their service.
  void TearDown() override {
    std::lock_guard lock(seen_.mutex);
    seen_.strands.clear();
  }

  Seen seen_;                // outlives the threads, which may still be running a handler
  ThreadedContext context_;  // joined before seen_ goes
  std::shared_ptr<TransparentListener> listener_;
};

TEST_F(TransparentListenerTest, SeveralThreadsHandEveryConnectionOnOnceOnItsOwnStrand) {
  ASSERT_NO_FATAL_FAILURE(openRecording());
  const Tcp::endpoint server = listener_->endpoint();

  asio::io_context client_io;
  std::vector<Tcp::socket> clients;
  std::mutex clients_mutex;
  // Queued before start(), more than one batch: accepted without any readiness edge.
  constexpr int kQueued = 40;
  for (int i = 0; i < kQueued; ++i) {
    clients.emplace_back(client_io);
    clients.back().connect(server);
    const char byte = 'x';
    asio::write(clients.back(), asio::buffer(&byte, 1));
  }
  listener_->start();
  // Then clients on several threads at once, while the loop runs on any of the pool's threads.
  constexpr int kClientThreads = 3;
  constexpr int kPerThread = 60;
  std::atomic<int> echoed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClientThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (connectAndEcho(client_io, server, clients, clients_mutex)) ++echoed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  constexpr size_t kTotal = kQueued + kClientThreads * kPerThread;
  EXPECT_EQ(echoed.load(), kClientThreads * kPerThread);
  for (int i = 0; i < kQueued; ++i) {
    char back = 0;
    boost::system::error_code ec;
    asio::read(clients[i], asio::buffer(&back, 1), ec);
    EXPECT_FALSE(ec) << i;
    EXPECT_EQ(back, 'x');
  }
  EXPECT_EQ(seen_.waitFor(kTotal), kTotal);
  std::this_thread::sleep_for(milliseconds(100));  // a double hand-on would show by now
  listener_->stop();

  std::lock_guard lock(seen_.mutex);
  EXPECT_EQ(seen_.handled, kTotal);
  ASSERT_EQ(seen_.clients.size(), kTotal);
  for (const Tcp::socket& client : clients) {
    const auto it = seen_.clients.find(client.local_endpoint());
    ASSERT_NE(it, seen_.clients.end()) << client.local_endpoint();
    EXPECT_EQ(it->second, 1) << client.local_endpoint();
  }
  EXPECT_EQ(seen_.not_on_a_strand, 0u);
  for (size_t i = 1; i < seen_.strands.size(); ++i) {
    for (size_t j = 0; j < i; ++j) ASSERT_NE(seen_.strands[i], seen_.strands[j]) << i << " " << j;
  }
}

TEST_F(TransparentListenerTest, SeveralThreadsAdmitNoMoreThanTheLimitAndCountTheRest) {
  TransparentListener::Options options;
  options.transparent = false;
  options.strand_per_connection = true;
  options.limit = std::make_shared<ConnectionLimit>(10);
  std::atomic<int> refused{0};
  options.on_refused = [&refused] { ++refused; };
  std::mutex kept_mutex;
  std::vector<Tcp::socket> kept;
  auto listener = TransparentListener::open(
      context_.executor(), kLoopback, options, [&](Tcp::socket socket, const Tcp::endpoint&) {
        std::lock_guard lock(kept_mutex);
        kept.push_back(std::move(socket));  // holds its unit of the limit: never released
      });
  ASSERT_TRUE(listener);
  listener.value()->start();
  asio::io_context client_io;
  std::mutex clients_mutex;
  std::vector<Tcp::socket> clients;
  constexpr int kClients = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kClients / 2; ++i) {
        Tcp::socket client(client_io);
        client.connect(listener.value()->endpoint());
        std::lock_guard lock(clients_mutex);
        clients.push_back(std::move(client));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const auto handled = [&] {
    std::lock_guard lock(kept_mutex);
    return kept.size() + static_cast<size_t>(refused.load());
  };
  for (int i = 0; i < 500 && handled() < kClients; ++i) std::this_thread::sleep_for(milliseconds(10));
  std::this_thread::sleep_for(milliseconds(100));  // nothing more may come
  listener.value()->stop();
  std::lock_guard lock(kept_mutex);
  EXPECT_EQ(kept.size(), 10u);
  EXPECT_EQ(refused.load(), kClients - 10);
  EXPECT_EQ(options.limit->active(), 10u);
}

TEST_F(TransparentListenerTest, StopFromAnotherThreadEndsAcceptingWhileClientsArrive) {
  ASSERT_NO_FATAL_FAILURE(openRecording());
  const Tcp::endpoint server = listener_->endpoint();
  listener_->start();

  asio::io_context client_io;
  std::atomic<int> connected{0};
  std::atomic<bool> refused{false};
  std::thread clients([&] {
    std::vector<Tcp::socket> open;  // open, so that no later client reuses a port
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int i = 0; i < 4000 && !refused && std::chrono::steady_clock::now() < deadline; ++i) {
      Tcp::socket client(client_io);
      boost::system::error_code ec;
      client.connect(server, ec);
      if (ec == asio::error::connection_refused) refused = true;
      if (ec) continue;
      ++connected;
      open.push_back(std::move(client));
    }
  });
  EXPECT_GE(seen_.waitFor(20), 20u);
  listener_->stop();
  clients.join();
  EXPECT_TRUE(refused);  // the port was closed, by the loop's own strand
  const size_t after_stop = seen_.count();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(seen_.count(), after_stop);
  // Connections still in the backlog at the close were reset by the kernel, never handed on.
  EXPECT_LE(after_stop, static_cast<size_t>(connected.load()));
  std::lock_guard lock(seen_.mutex);
  for (const auto& [client, times] : seen_.clients) EXPECT_EQ(times, 1) << client;
}

}  // namespace
}  // namespace portcullis::proxy
