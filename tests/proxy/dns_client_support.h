// Blocking DNS clients with bounded waits (poll), for the DNS proxy's tests: plain sockets, so
// nothing here shares code or an io_context with the proxy under test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy::testing {

inline constexpr std::chrono::milliseconds kWait{3000};

inline sockaddr_storage socketAddress(const std::string& ip, uint16_t port, socklen_t& length) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &sin->sin_addr);
    length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr);
    length = sizeof(sockaddr_in6);
  }
  return ss;
}

inline bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

class UdpClient {
 public:
  explicit UdpClient(const std::string& ip = "127.0.0.1", uint16_t port = 0)
      : ip_(ip), port_(port) {
    fd_ = ::socket(ip.find(':') == std::string::npos ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
  }
  ~UdpClient() { ::close(fd_); }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  void send(const std::vector<uint8_t>& m) {
    socklen_t length = 0;
    const sockaddr_storage to = socketAddress(ip_, port_, length);
    ::sendto(fd_, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&to), length);
  }
  std::optional<std::vector<uint8_t>> receive(std::chrono::milliseconds timeout = kWait) {
    if (!readable(fd_, timeout)) return std::nullopt;
    std::vector<uint8_t> buffer(65536);
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) return std::nullopt;
    buffer.resize(static_cast<size_t>(n));
    return buffer;
  }
  std::optional<std::vector<uint8_t>> ask(const std::vector<uint8_t>& m) {
    send(m);
    return receive();
  }

 private:
  std::string ip_;
  uint16_t port_;
  int fd_ = -1;
};

class TcpClient {
 public:
  TcpClient(const std::string& ip, uint16_t port) {
    fd_ = ::socket(ip.find(':') == std::string::npos ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    socklen_t length = 0;
    const sockaddr_storage to = socketAddress(ip, port, length);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), length) == 0;
  }
  ~TcpClient() { ::close(fd_); }
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  bool connected() const { return connected_; }
  void sendRaw(const std::vector<uint8_t>& bytes) {
    ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  void send(const std::vector<uint8_t>& m) {
    std::vector<uint8_t> framed;
    put16(framed, static_cast<uint16_t>(m.size()));
    append(framed, m);
    sendRaw(framed);
  }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // One framed message; nullopt on timeout, EOF or error.
  std::optional<std::vector<uint8_t>> receive(std::chrono::milliseconds timeout = kWait) {
    uint8_t length[2];
    if (!readExactly(length, 2, timeout)) return std::nullopt;
    std::vector<uint8_t> m(size_t{length[0]} << 8 | length[1]);
    if (!readExactly(m.data(), m.size(), timeout)) return std::nullopt;
    return m;
  }
  std::optional<std::vector<uint8_t>> ask(const std::vector<uint8_t>& m) {
    send(m);
    return receive();
  }
  // True when the proxy closed the connection within `timeout`.
  bool closedByPeer(std::chrono::milliseconds timeout = kWait) {
    uint8_t byte;
    return readable(fd_, timeout) && ::recv(fd_, &byte, 1, 0) <= 0;
  }

 private:
  bool readExactly(uint8_t* out, size_t n, std::chrono::milliseconds timeout) {
    size_t got = 0;
    while (got < n) {
      if (!readable(fd_, timeout)) return false;
      const ssize_t r = ::recv(fd_, out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace portcullis::proxy::testing
