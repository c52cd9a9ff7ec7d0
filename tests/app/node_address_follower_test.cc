#include "app/node_address_follower.h"

#include <gtest/gtest.h>

#include <chrono>

namespace portcullis::app {
namespace {

using Address = boost::asio::ip::address;

Address addr(const char* text) { return boost::asio::ip::make_address(text); }

// The reader is faked: adding an address to this host needs privileges
// (node_address_change_test.sh does it in a network namespace).
TEST(NodeAddressFollowerTest, PublishesTheListAtStartAndOnEveryRefresh) {
  boost::asio::io_context io;
  auto store = std::make_shared<proxy::NodeAddresses>();
  std::vector<Address> node{addr("198.18.1.1")};
  int reads = 0;
  NodeAddressFollower follower(io, store, [&] {
    ++reads;
    return node;
  });
  ASSERT_TRUE(follower.start());
  EXPECT_EQ(reads, 1);
  EXPECT_TRUE(store->isLocal(addr("198.18.1.1")));
  EXPECT_FALSE(store->isLocal(addr("2001:db8:7::1")));

  node.push_back(addr("2001:db8:7::1"));
  follower.refresh();
  EXPECT_TRUE(store->isLocal(addr("2001:db8:7::1")));
  node.erase(node.begin());
  follower.refresh();
  EXPECT_FALSE(store->isLocal(addr("198.18.1.1")));
  EXPECT_EQ(store->load()->addresses(), std::vector<Address>{addr("2001:db8:7::1")});

  // Nothing of the follower stays queued on the loop once stopped: run() returns.
  follower.stop();
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io.stopped());
  EXPECT_EQ(reads, 3);  // no notification came: nothing read again
}

TEST(NodeAddressFollowerTest, DestroyedWhileWaiting) {
  boost::asio::io_context io;
  auto store = std::make_shared<proxy::NodeAddresses>();
  {
    NodeAddressFollower follower(io, store, [] { return std::vector<Address>{addr("198.18.1.1")}; });
    ASSERT_TRUE(follower.start());
    io.poll();  // the wait is armed
  }
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io.stopped());
  EXPECT_TRUE(store->isLocal(addr("198.18.1.1")));  // the last set stays
}

}  // namespace
}  // namespace portcullis::app
