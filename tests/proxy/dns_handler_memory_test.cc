#include "proxy/dns_handler_memory.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;

TEST(DnsHandlerMemory, HandsOutItsBlockOnceThenTheHeap) {
  DnsHandlerMemory memory;
  void* first = memory.allocate(64);
  EXPECT_TRUE(memory.inUse());
  void* second = memory.allocate(64);  // taken: from the heap
  EXPECT_NE(first, second);
  memory.deallocate(second);
  EXPECT_TRUE(memory.inUse());
  memory.deallocate(first);
  EXPECT_FALSE(memory.inUse());
  void* large = memory.allocate(4096);  // does not fit: from the heap
  EXPECT_FALSE(memory.inUse());
  memory.deallocate(large);
  EXPECT_EQ(memory.allocate(8), first);  // free again: the same block
  memory.deallocate(first);
}

TEST(DnsHandlerMemory, AsioKeepsASocketWaitInIt) {
  asio::io_context io;
  asio::ip::udp::socket receiver(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::udp::socket sender(io, {asio::ip::make_address("127.0.0.1"), 0});
  DnsHandlerMemory memory;
  int waits = 0;
  receiver.async_wait(asio::ip::udp::socket::wait_read,
                      DnsMemoryHandler(memory, [&](const boost::system::error_code& ec) {
                        EXPECT_FALSE(ec);
                        // Given back before the handler runs, for the next wait to take.
                        EXPECT_FALSE(memory.inUse());
                        ++waits;
                      }));
  EXPECT_TRUE(memory.inUse());  // the pending operation lives in the block
  const char byte = 'x';
  sender.send_to(asio::buffer(&byte, 1), receiver.local_endpoint());
  io.run();
  EXPECT_EQ(waits, 1);
  EXPECT_FALSE(memory.inUse());
}

}  // namespace
}  // namespace portcullis::proxy
