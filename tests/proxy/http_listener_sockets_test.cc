// The sockets of the HTTP listener's connections: accepted with accept4 (in every model) and
// opened for the origin with openNonBlocking, both non-blocking and close-on-exec from the
// system call that made them, and known as such to Asio (it must not ioctl(FIONBIO) them, and
// its asynchronous operations must work on them); TCP_NODELAY inherited from the listener.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "proxy/socket_options.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;

const Tcp::endpoint kLoopback(asio::ip::make_address("127.0.0.1"), 0);

int intOption(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &size), 0);
  return value;
}

bool nonBlocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
bool closeOnExec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

struct Accepted {
  bool non_blocking = false;
  bool close_on_exec = false;
  bool asio_non_blocking = false;
  int no_delay = -1;
  Tcp::endpoint client;
};

// Accepts `clients` connections made before the listener starts, and echoes one read from each
// (an asynchronous read and write on the accepted socket).
std::vector<Accepted> acceptAndEcho(TransparentListener::Options options, size_t clients) {
  asio::io_context io;
  options.transparent = false;
  std::vector<Accepted> accepted;
  std::vector<std::shared_ptr<Tcp::socket>> sockets;
  auto listener = TransparentListener::open(
      io.get_executor(), kLoopback, options, [&](Tcp::socket socket, const Tcp::endpoint& client) {
        const int fd = socket.native_handle();
        accepted.push_back({nonBlocking(fd), closeOnExec(fd), socket.native_non_blocking(),
                            intOption(fd, IPPROTO_TCP, TCP_NODELAY), client});
        auto s = std::make_shared<Tcp::socket>(std::move(socket));
        sockets.push_back(s);
        auto buffer = std::make_shared<std::array<char, 16>>();
        s->async_read_some(asio::buffer(*buffer), [s, buffer](boost::system::error_code ec,
                                                              size_t n) {
          if (!ec) asio::async_write(*s, asio::buffer(buffer->data(), n), [s](auto, size_t) {});
        });
      });
  EXPECT_TRUE(listener);
  if (!listener) return accepted;
  std::vector<Tcp::socket> connected;
  for (size_t i = 0; i < clients; ++i) {
    connected.emplace_back(io);
    connected.back().connect(listener.value()->endpoint());
    asio::write(connected.back(), asio::buffer(std::to_string(i % 10)));
  }
  listener.value()->start();
  std::vector<std::string> echoes(clients);
  size_t echoed = 0;
  for (size_t i = 0; i < clients; ++i) {
    echoes[i].resize(1);
    asio::async_read(connected[i], asio::buffer(echoes[i]), [&](auto ec, size_t) {
      if (!ec && ++echoed == clients) io.stop();
    });
  }
  io.run_for(std::chrono::seconds(5));
  EXPECT_EQ(echoed, clients);
  for (size_t i = 0; i < clients; ++i) EXPECT_EQ(echoes[i], std::to_string(i % 10));
  for (const Tcp::socket& client : connected) {
    const bool seen = std::any_of(accepted.begin(), accepted.end(), [&](const Accepted& a) {
      return a.client == client.local_endpoint();
    });
    EXPECT_TRUE(seen) << client.local_endpoint();
  }
  listener.value()->close();
  return accepted;
}

TEST(HttpListenerSocketsTest, ListenerAcceptsNonBlockingCloseOnExecSockets) {
  TransparentListener::Options options;
  options.no_delay = true;
  // More than one accept batch, all queued before start(): no readiness edge announces them.
  const std::vector<Accepted> accepted = acceptAndEcho(options, 40);
  ASSERT_EQ(accepted.size(), 40u);
  for (const Accepted& a : accepted) {
    EXPECT_TRUE(a.non_blocking);
    EXPECT_TRUE(a.close_on_exec);
    EXPECT_TRUE(a.asio_non_blocking);  // Asio knows: no ioctl(FIONBIO) at the first operation
    EXPECT_EQ(a.no_delay, 1);          // inherited from the listener
  }
}

TEST(HttpListenerSocketsTest, StrandPerConnectionSocketsAreAcceptedAlike) {
  TransparentListener::Options options;
  options.strand_per_connection = true;
  const std::vector<Accepted> accepted = acceptAndEcho(options, 20);
  ASSERT_EQ(accepted.size(), 20u);
  for (const Accepted& a : accepted) {
    EXPECT_TRUE(a.non_blocking);
    EXPECT_TRUE(a.close_on_exec);
    EXPECT_TRUE(a.asio_non_blocking);
    EXPECT_EQ(a.no_delay, 0);  // not asked for
  }
}

// A loopback listener on `io` whose handler keeps every socket in `kept`.
Result<std::shared_ptr<TransparentListener>> keepingListener(asio::io_context& io,
                                                             TransparentListener::Options options,
                                                             std::vector<Tcp::socket>& kept) {
  options.transparent = false;
  return TransparentListener::open(
      io.get_executor(), kLoopback, options,
      [&kept](Tcp::socket socket, const Tcp::endpoint&) { kept.push_back(std::move(socket)); });
}

// `count` connections to `server`, queued in its backlog.
std::vector<Tcp::socket> queueClients(asio::io_context& io, const Tcp::endpoint& server,
                                      int count) {
  std::vector<Tcp::socket> clients;
  for (int i = 0; i < count; ++i) {
    clients.emplace_back(io);
    clients.back().connect(server);
  }
  return clients;
}

TEST(HttpListenerSocketsTest, ListenerLimitResetsBeyondMax) {
  TransparentListener::Options options;
  options.limit = std::make_shared<ConnectionLimit>(2);
  int refused = 0;
  options.on_refused = [&refused] { ++refused; };
  asio::io_context io;
  std::vector<Tcp::socket> kept;
  auto listener = keepingListener(io, options, kept);
  ASSERT_TRUE(listener);
  std::vector<Tcp::socket> clients = queueClients(io, listener.value()->endpoint(), 3);
  listener.value()->start();
  for (int i = 0; i < 100 && kept.size() + static_cast<size_t>(refused) < 3; ++i) {
    io.run_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(refused, 1);
  // The refused one was reset: its read ends with an error, not a hang.
  boost::system::error_code ec;
  char byte = 0;
  clients[2].read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec);
  listener.value()->close();
}

// Lowers the descriptor limit so that the next descriptor cannot be made, until destroyed.
class DescriptorsExhausted {
 public:
  DescriptorsExhausted() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lowest_free < 0) return;
    ::close(lowest_free);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(lowest_free);  // a new descriptor would be >= the limit
    ok_ = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
  }
  ~DescriptorsExhausted() { restore(); }
  void restore() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

double cpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

TEST(HttpListenerSocketsTest, OutOfDescriptorsBacksOffThenAcceptsWhatWaited) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan checks the object of a virtual call the first time it meets its type, and that check
  // opens a pipe, which EMFILE fails: it reports a bad vptr wherever the listener's EMFILE path
  // first meets a type (error categories, Asio's type_info comparisons). Run in the release tier.
  GTEST_SKIP() << "needs free descriptors for UBSan's checks";
#endif
  asio::io_context io;
  std::vector<Tcp::socket> kept;
  auto listener = keepingListener(io, TransparentListener::Options{}, kept);
  ASSERT_TRUE(listener);
  std::vector<Tcp::socket> clients = queueClients(io, listener.value()->endpoint(), 3);
  const log::Level level = log::level();
  log::setLevel(log::Level::kInfo);
  testing::internal::CaptureStderr();  // its file is opened while descriptors are left
  DescriptorsExhausted exhausted;
  ASSERT_TRUE(exhausted.ok());
  listener.value()->start();
  const double cpu_before = cpuSeconds();
  io.run_for(std::chrono::milliseconds(300));  // EMFILE at each try, ~50 ms apart
  const double cpu = cpuSeconds() - cpu_before;
  exhausted.restore();
  EXPECT_EQ(kept.size(), 0u);
  EXPECT_LT(cpu, 0.15);  // a loop retrying at once would have burnt the whole 300 ms
  for (int i = 0; i < 100 && kept.size() < 3; ++i) io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(kept.size(), 3u);  // still queued: EMFILE leaves the connection in the backlog
  listener.value()->close();
  const std::string logged = testing::internal::GetCapturedStderr();
  log::setLevel(level);
  // About six failed tries, one warning (the next would come 10 s later), one line at the end.
  const auto count = [&logged](std::string_view what) {
    size_t n = 0;
    for (size_t at = logged.find(what); at != std::string::npos; at = logged.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("Too many open files; retrying every 50 ms (1 failed so far)"), 1u) << logged;
  EXPECT_EQ(count("failed so far"), 1u) << logged;
  EXPECT_EQ(count(" works again after "), 1u) << logged;
}

TEST(HttpListenerSocketsTest, OpenNonBlockingConnectsAndCarriesBytes) {
  asio::io_context io;
  Tcp::acceptor server(io, kLoopback);
  Tcp::socket up(io);
  ASSERT_FALSE(openNonBlocking(up, Tcp::v4()));
  EXPECT_TRUE(up.is_open());
  EXPECT_TRUE(nonBlocking(up.native_handle()));
  EXPECT_TRUE(closeOnExec(up.native_handle()));
  EXPECT_TRUE(up.native_non_blocking());
  ASSERT_FALSE(startConnect(up, server.local_endpoint()));
  Tcp::socket peer = server.accept();
  // The first send may meet the handshake still running: Asio waits for writability.
  std::string got(5, '\0');
  bool written = false;
  asio::async_write(up, asio::buffer(std::string_view("hello")),
                    [&](auto ec, size_t) { written = !ec; });
  asio::async_read(peer, asio::buffer(got), [&](auto, size_t) { io.stop(); });
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(written);
  EXPECT_EQ(got, "hello");
  // Reopened after a close, as the session does for the next origin connection.
  up.close();
  ASSERT_FALSE(openNonBlocking(up, Tcp::v6()));
  EXPECT_TRUE(up.native_non_blocking());
  EXPECT_EQ(up.local_endpoint().protocol(), Tcp::v6());
}

}  // namespace
}  // namespace portcullis::proxy
