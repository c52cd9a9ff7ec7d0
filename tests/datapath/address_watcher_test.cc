#include "datapath/address_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace portcullis::datapath {
namespace {

// A datagram of messages of these types, each with an ifaddrmsg body, as the groups carry them.
std::vector<char> datagram(std::initializer_list<uint16_t> types) {
  std::vector<char> out;
  for (uint16_t type : types) {
    nlmsghdr header{};
    header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    header.nlmsg_type = type;
    const size_t at = out.size();
    out.resize(at + NLMSG_SPACE(sizeof(ifaddrmsg)));
    std::memcpy(out.data() + at, &header, sizeof header);
  }
  return out;
}

TEST(AddressWatcherTest, AnAddressAddedOrRemovedIsAChange) {
  for (uint16_t type : {RTM_NEWADDR, RTM_DELADDR}) {
    const auto d = datagram({type});
    EXPECT_TRUE(announcesAddressChange(d.data(), d.size())) << type;
  }
  const auto second = datagram({RTM_NEWLINK, RTM_DELADDR});
  EXPECT_TRUE(announcesAddressChange(second.data(), second.size()));
}

TEST(AddressWatcherTest, OtherOrTruncatedMessagesAreNot) {
  const auto link = datagram({RTM_NEWLINK, RTM_NEWROUTE});
  EXPECT_FALSE(announcesAddressChange(link.data(), link.size()));
  const auto added = datagram({RTM_NEWADDR});
  EXPECT_FALSE(announcesAddressChange(added.data(), sizeof(nlmsghdr) - 1));
  // A header claiming more bytes than the datagram holds.
  auto lying = datagram({RTM_NEWADDR});
  reinterpret_cast<nlmsghdr*>(lying.data())->nlmsg_len = 4096;
  EXPECT_FALSE(announcesAddressChange(lying.data(), lying.size()));
  EXPECT_FALSE(announcesAddressChange(nullptr, 0));
}

// Subscribing needs no privilege. With nothing queued, drain() returns at once; this process
// cannot add an address (no CAP_NET_ADMIN): node_address_change_test.sh covers that part.
TEST(AddressWatcherTest, DrainsWithoutWaiting) {
  auto watcher = AddressWatcher::open();
  ASSERT_TRUE(watcher) << watcher.error().message();
  EXPECT_GE(watcher.value().fd(), 0);
  AddressWatcher moved = std::move(watcher).value();
  EXPECT_GE(moved.fd(), 0);
  auto drained = moved.drain();
  ASSERT_TRUE(drained) << drained.error().message();
  EXPECT_FALSE(drained.value());
}

}  // namespace
}  // namespace portcullis::datapath
