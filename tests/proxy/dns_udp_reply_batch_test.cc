// DnsUdpReplyBatch on loopback with plain sockets: what is queued leaves only at flush(), from
// the socket it was queued on, to its own client, in order; a failed answer is reported and does
// not hold back the others.
#include "proxy/dns_udp_reply_batch.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace portcullis::proxy {
namespace {

using udp = boost::asio::ip::udp;

// A UDP socket bound to 127.0.0.1 on a port the kernel picks.
class LoopbackSocket {
 public:
  LoopbackSocket() : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    socklen_t length = sizeof sin;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &length);
    port_ = ntohs(sin.sin_port);
  }
  ~LoopbackSocket() { ::close(fd_); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  udp::endpoint endpoint() const { return {boost::asio::ip::address_v4::loopback(), port_}; }

  // The next datagram and the port it came from; empty text when none came within `wait`.
  std::pair<std::string, uint16_t> receive(std::chrono::milliseconds wait) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return {};
    char buffer[512];
    sockaddr_in from{};
    socklen_t length = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buffer, sizeof buffer, 0,
                                 reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return {};
    return {std::string(buffer, static_cast<size_t>(n)), ntohs(from.sin_port)};
  }

 private:
  int fd_;
  uint16_t port_ = 0;
};

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

constexpr std::chrono::milliseconds kWait{2000};
constexpr std::chrono::milliseconds kNothing{50};

TEST(DnsUdpReplyBatchTest, AnswersLeaveAtFlushFromTheirSocketToTheirClientInOrder) {
  LoopbackSocket from_a, from_b, client_1, client_2;
  std::vector<std::error_code> failures;
  DnsUdpReplyBatch batch([&](const udp::endpoint&, std::error_code ec) { failures.push_back(ec); });
  const std::string one = "one", two = "two", three = "three", four = "four";
  batch.add(from_a.fd(), client_1.endpoint(), bytes(one));
  batch.add(from_a.fd(), client_2.endpoint(), bytes(two));
  batch.add(from_b.fd(), client_1.endpoint(), bytes(three));
  batch.add(from_a.fd(), client_1.endpoint(), bytes(four));
  EXPECT_FALSE(batch.empty());
  EXPECT_TRUE(client_1.receive(kNothing).first.empty()) << "sent before flush()";

  batch.flush();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(client_1.receive(kWait), std::make_pair(one, from_a.port()));
  EXPECT_EQ(client_1.receive(kWait), std::make_pair(three, from_b.port()));
  EXPECT_EQ(client_1.receive(kWait), std::make_pair(four, from_a.port()));
  EXPECT_EQ(client_2.receive(kWait), std::make_pair(two, from_a.port()));
  EXPECT_TRUE(client_1.receive(kNothing).first.empty());
  EXPECT_TRUE(failures.empty());

  // Nothing is sent twice: a second flush has nothing left.
  batch.flush();
  EXPECT_TRUE(client_1.receive(kNothing).first.empty());
  EXPECT_TRUE(client_2.receive(kNothing).first.empty());
}

TEST(DnsUdpReplyBatchTest, AFailedAnswerIsReportedAndTheOthersStillLeave) {
  LoopbackSocket from, client;
  std::vector<std::pair<udp::endpoint, std::error_code>> failures;
  DnsUdpReplyBatch batch(
      [&](const udp::endpoint& to, std::error_code ec) { failures.emplace_back(to, ec); });
  // UDP refuses destination port 0 (EINVAL), in the middle of the batch.
  const udp::endpoint nowhere(boost::asio::ip::address_v4::loopback(), 0);
  const std::string before = "before", lost = "lost", after = "after";
  batch.add(from.fd(), client.endpoint(), bytes(before));
  batch.add(from.fd(), nowhere, bytes(lost));
  batch.add(from.fd(), client.endpoint(), bytes(after));
  batch.flush();

  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].first, nowhere);
  EXPECT_EQ(failures[0].second, std::error_code(EINVAL, std::system_category()));
  EXPECT_EQ(client.receive(kWait), std::make_pair(before, from.port()));
  EXPECT_EQ(client.receive(kWait), std::make_pair(after, from.port()));
}

}  // namespace
}  // namespace portcullis::proxy
