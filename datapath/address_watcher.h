// Tells when the node's addresses change: a NETLINK_ROUTE socket in the IPv4 and IPv6 address
// groups (RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR). It keeps no list itself: its owner reads
// the whole list again after any notification, so a lost notification (ENOBUFS, reported as
// a change) cannot leave a set built from the messages wrong for good.
//
// A raw socket (only <linux/rtnetlink.h>, the kernel's UAPI), not libnl: nothing here builds a
// request or reads an attribute, and libnl stays wrapped in netlink_routing.cc alone. The owner
// waits for fd() to be readable in its own event loop (datapath/ has no Asio), then drain()s.
#pragma once

#include <cstddef>

#include "common/result.h"

namespace portcullis::datapath {

class AddressWatcher {
 public:
  // Subscribed from here on: read the list after open(), and no change is missed.
  static Result<AddressWatcher> open();

  AddressWatcher(AddressWatcher&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  AddressWatcher& operator=(AddressWatcher&& other) noexcept;
  AddressWatcher(const AddressWatcher&) = delete;
  AddressWatcher& operator=(const AddressWatcher&) = delete;
  ~AddressWatcher();

  // Non-blocking; readable when notifications are queued.
  int fd() const { return fd_; }

  // Reads every queued notification without waiting. True when one announced an address added
  // or removed, or when the kernel dropped some because the socket's buffer overran (ENOBUFS):
  // either way the list is to be read again.
  Result<bool> drain();

 private:
  explicit AddressWatcher(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Whether one datagram of the socket holds an RTM_NEWADDR or RTM_DELADDR message (what the
// groups carry; anything else, or a truncated message, is not a change).
bool announcesAddressChange(const void* datagram, size_t size);

}  // namespace portcullis::datapath
