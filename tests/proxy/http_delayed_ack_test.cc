// Delayed ACKs on the HTTP listener's accepted sockets (TCP_QUICKACK off, inherited from the
// listener): the ACK of a request rides on its response. listen(2) resets the delayed-ACK state,
// so the option only reaches accepted sockets when set after it.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <future>

#include "proxy/socket_options.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {
namespace {

// TCP_QUICKACK as the kernel reports it: 0 while the socket is in delayed-ACK (ping-pong) mode.
int quickAck(int fd) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &value, &size), 0);
  return value;
}

// The TCP_QUICKACK of the socket a listener accepts, with or without delayed_ack.
int acceptedQuickAck(bool delayed_ack) {
  boost::asio::io_context io;
  TransparentListener::Options options;
  options.transparent = false;
  options.delayed_ack = delayed_ack;
  std::promise<int> accepted;
  auto listener = TransparentListener::open(
      io.get_executor(), Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0), options,
      [&](Tcp::socket socket, const Tcp::endpoint&) {
        accepted.set_value(quickAck(socket.native_handle()));
        io.stop();
      });
  EXPECT_TRUE(listener);
  if (!listener) return -1;
  listener.value()->start();
  Tcp::socket client(io);
  client.connect(listener.value()->endpoint());
  io.run_for(std::chrono::seconds(5));
  auto result = accepted.get_future();
  if (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return -1;
  return result.get();
}

TEST(HttpDelayedAckTest, AcceptedSocketsInheritDelayedAcksFromTheListener) {
  EXPECT_EQ(acceptedQuickAck(true), 0);
  EXPECT_EQ(acceptedQuickAck(false), 1);
}

TEST(HttpDelayedAckTest, SetDelayedAckTurnsQuickAckOff) {
  boost::asio::io_context io;
  Tcp::socket socket(io, Tcp::v4());
  EXPECT_FALSE(setDelayedAck(socket.native_handle()));
  EXPECT_EQ(quickAck(socket.native_handle()), 0);
}

}  // namespace
}  // namespace portcullis::proxy
