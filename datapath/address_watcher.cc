#include "datapath/address_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace portcullis::datapath {
namespace {

std::error_code lastError() { return {errno, std::system_category()}; }

}  // namespace

Result<AddressWatcher> AddressWatcher::open() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return lastError();
  AddressWatcher watcher(fd);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return lastError();
  return watcher;
}

AddressWatcher& AddressWatcher::operator=(AddressWatcher&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

AddressWatcher::~AddressWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> AddressWatcher::drain() {
  // One datagram holds one notification of under 200 bytes (inet_nlmsg_size,
  // inet6_ifaddr_msgsize); a longer one would be truncated, and its first message still counts.
  alignas(nlmsghdr) std::array<char, 8192> buffer;
  bool changed = false;
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_size = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &from_size);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return changed;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // notifications were lost; the queue goes on after it
        changed = true;
        continue;
      }
      return lastError();
    }
    // Only the kernel (port 0) speaks for the node's addresses.
    if (from.nl_pid == 0 && announcesAddressChange(buffer.data(), static_cast<size_t>(n))) {
      changed = true;
    }
  }
}

bool announcesAddressChange(const void* datagram, size_t size) {
  // By hand rather than NLMSG_OK/NLMSG_NEXT: they compare a length as int and as __u32.
  const auto* bytes = static_cast<const char*>(datagram);
  for (size_t at = 0; at + sizeof(nlmsghdr) <= size;) {
    nlmsghdr header;
    std::memcpy(&header, bytes + at, sizeof header);
    if (header.nlmsg_len < sizeof header || header.nlmsg_len > size - at) return false;
    if (header.nlmsg_type == RTM_NEWADDR || header.nlmsg_type == RTM_DELADDR) return true;
    at += NLMSG_ALIGN(header.nlmsg_len);
  }
  return false;
}

}  // namespace portcullis::datapath
